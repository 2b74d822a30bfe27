// Node is a runtime node for certroll's renewal/java package: a Java HTTPS
// client that behaves as an integration runtime's does during a client
// certificate renewal. It loads the keystore once, when it starts, builds its
// SSLContext from it with Java's default key manager
// (KeyManagerFactory.getDefaultAlgorithm(), SunX509 on JDK 17) and keeps that
// context until the process ends, so a certificate replaced in the keystore
// file is presented only after a restart. The default key manager chooses the
// key entry whose chain is issued by one of the CA names the server advertises
// in its CertificateRequest, and no certificate when none is.
//
// Usage (a single-file program, JDK 17 or later, no build step):
//
//	java Node.java --keystore PATH [--trust PEM-FILE] --url https://HOST:PORT/PATH
//	               [--rate PER-SECOND] [--timeout-ms MS] [--name NODE]
//
// The passwords come on standard input, never on the command line: the first
// line is the keystore password and the second the key password (an empty
// line means the keystore password), each base64-encoded UTF-8. The node then
// keeps reading standard input and exits when it ends, so closing it is the
// way to stop the node, and a node whose parent dies stops too.
//
// The keystore is a JKS or PKCS#12 file, told apart by content. --trust names
// a file of PEM or DER certificates that may sign the server's certificate
// (without it, the JDK's cacerts). Each request runs over a new connection and
// a full handshake (the session is invalidated afterwards), so the server's
// trust at that moment decides.
//
// Standard output carries one JSON object a line:
//
//	{"event":"ready","node":"n1","entries":[{"alias":"a","sha256":"hex","cert":"base64 DER"}]}
//	{"event":"request","node":"n1","seq":1,"asked":true,"issuers":["CN=root"],
//	 "alias":"a","presented":"hex","status":200,"error":""}
//	{"event":"fatal","node":"n1","error":"..."}
//
// "asked" says whether the server asked for a client certificate before the
// request ended; "issuers" are the CA names it advertised; "alias" and
// "presented" (the SHA-256 of the leaf certificate) are empty when the key
// manager chose none. "status" is 0 when the request failed before a response
// came, and "error" says why.
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;

public class Node {
    static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    static String name = "";

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable e) {
            emit("{\"event\":\"fatal\",\"node\":" + q(name) + ",\"error\":" + q(describe(e)) + "}");
            System.exit(2);
        }
    }

    static void run(String[] args) throws Exception {
        String keystore = null, trust = null, url = null;
        double rate = 10;
        int timeoutMs = 5000;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("option " + a + " needs a value");
            }
            String v = args[++i];
            switch (a) {
                case "--keystore": keystore = v; break;
                case "--trust": trust = v; break;
                case "--url": url = v; break;
                case "--rate": rate = Double.parseDouble(v); break;
                case "--timeout-ms": timeoutMs = Integer.parseInt(v); break;
                case "--name": name = v; break;
                default: throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (keystore == null || url == null) {
            throw new IllegalArgumentException("usage: java Node.java --keystore PATH [--trust PEM] --url URL [--rate N] [--timeout-ms MS] [--name NODE]");
        }
        if (!(rate > 0) || rate > 1000) {
            throw new IllegalArgumentException("--rate must be more than 0 and at most 1000, not " + rate);
        }
        URI target = new URI(url);
        if (!"https".equalsIgnoreCase(target.getScheme()) || target.getHost() == null) {
            throw new IllegalArgumentException("--url must be an https URL, not " + url);
        }

        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        char[] storePass = readPassword(stdin, "keystore password");
        char[] keyPass = readPassword(stdin, "key password");
        if (keyPass.length == 0) {
            keyPass = storePass.clone();
        }

        // The keystore is read once; the context built from it is kept
        // until the process ends, as the runtime caches it.
        KeyStore keys = KeyStore.getInstance(Path.of(keystore).toFile(), storePass);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, keyPass);
        Arrays.fill(storePass, '\0');
        Arrays.fill(keyPass, '\0');
        X509KeyManager base = null;
        for (KeyManager km : kmf.getKeyManagers()) {
            if (km instanceof X509KeyManager) {
                base = (X509KeyManager) km;
                break;
            }
        }
        if (base == null) {
            throw new IllegalStateException("the default key manager factory made no X509KeyManager");
        }
        Recorder recorder = new Recorder(base);

        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (trust != null) {
            KeyStore roots = KeyStore.getInstance("PKCS12");
            roots.load(null, null);
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            int n = 0;
            try (InputStream in = Files.newInputStream(Path.of(trust))) {
                for (Certificate c : cf.generateCertificates(in)) {
                    roots.setCertificateEntry("root-" + n++, c);
                }
            }
            if (n == 0) {
                throw new IllegalArgumentException("--trust " + trust + " holds no certificate");
            }
            tmf.init(roots);
        } else {
            tmf.init((KeyStore) null);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(new KeyManager[] {recorder}, tmf.getTrustManagers(), null);

        StringBuilder ready = new StringBuilder("{\"event\":\"ready\",\"node\":").append(q(name)).append(",\"entries\":[");
        boolean first = true;
        for (String alias : Collections.list(keys.aliases())) {
            if (!keys.isKeyEntry(alias)) {
                continue;
            }
            Certificate leaf = keys.getCertificate(alias);
            if (leaf == null) {
                continue;
            }
            if (!first) {
                ready.append(',');
            }
            first = false;
            ready.append("{\"alias\":").append(q(alias)).append(",\"sha256\":").append(q(sha256(leaf)))
                    .append(",\"cert\":").append(q(Base64.getEncoder().encodeToString(leaf.getEncoded()))).append('}');
        }
        emit(ready.append("]}").toString());

        // Standard input is the lifeline: when it ends, the node stops.
        Thread lifeline = new Thread(() -> {
            try {
                while (stdin.read() >= 0) {
                    // Ignore anything after the passwords.
                }
            } catch (IOException e) {
                // Treat a broken pipe as the end.
            }
            System.exit(0);
        }, "lifeline");
        lifeline.setDaemon(true);
        lifeline.start();

        long interval = (long) (1_000_000_000L / rate);
        long next = System.nanoTime();
        for (long seq = 1; ; seq++) {
            request(ctx, recorder, target, timeoutMs, seq);
            next += interval;
            long now = System.nanoTime();
            if (next < now) {
                next = now; // fell behind: no burst to catch up
            } else {
                Thread.sleep((next - now) / 1_000_000, (int) ((next - now) % 1_000_000));
            }
        }
    }

    static void request(SSLContext ctx, Recorder recorder, URI target, int timeoutMs, long seq) {
        recorder.reset();
        int status = 0;
        String error = "";
        String host = target.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port = target.getPort() > 0 ? target.getPort() : 443;
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(host, port), timeoutMs);
            raw.setSoTimeout(timeoutMs);
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, true)) {
                SSLParameters p = s.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                if (!host.matches("[0-9.]+") && !host.contains(":")) {
                    p.setServerNames(List.of(new SNIHostName(host)));
                }
                s.setSSLParameters(p);
                try {
                    s.startHandshake();
                    String path = target.getRawPath() == null || target.getRawPath().isEmpty() ? "/" : target.getRawPath();
                    if (target.getRawQuery() != null) {
                        path += "?" + target.getRawQuery();
                    }
                    String hostHeader = target.getPort() > 0 ? target.getHost() + ":" + port : target.getHost();
                    OutputStream out = s.getOutputStream();
                    out.write(("GET " + path + " HTTP/1.1\r\nHost: " + hostHeader
                            + "\r\nUser-Agent: certroll-java-node\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    InputStream in = s.getInputStream();
                    String line = readLine(in);
                    String[] parts = line.split(" ", 3);
                    if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                        throw new IOException("not an HTTP status line: " + line);
                    }
                    status = Integer.parseInt(parts[1]);
                    byte[] buf = new byte[8192];
                    long total = 0;
                    int n;
                    while ((n = in.read(buf)) >= 0 && total < (64L << 20)) {
                        total += n;
                    }
                } finally {
                    // No resumption: the next request runs a full handshake.
                    s.getSession().invalidate();
                }
            }
        } catch (Exception e) {
            status = 0;
            error = describe(e);
        }
        StringBuilder b = new StringBuilder("{\"event\":\"request\",\"node\":").append(q(name))
                .append(",\"seq\":").append(seq)
                .append(",\"asked\":").append(recorder.asked)
                .append(",\"issuers\":[");
        List<String> issuers = recorder.issuers;
        for (int i = 0; i < issuers.size(); i++) {
            if (i > 0) {
                b.append(',');
            }
            b.append(q(issuers.get(i)));
        }
        String alias = recorder.chosen;
        String presented = "";
        if (alias != null) {
            X509Certificate[] chain = recorder.getCertificateChain(alias);
            if (chain != null && chain.length > 0) {
                presented = sha256(chain[0]);
            }
        }
        b.append("],\"alias\":").append(q(alias == null ? "" : alias))
                .append(",\"presented\":").append(q(presented))
                .append(",\"status\":").append(status)
                .append(",\"error\":").append(q(error)).append('}');
        emit(b.toString());
    }

    // Recorder is the default key manager, unchanged, that remembers what
    // it was asked and which alias it chose for the current request.
    static final class Recorder extends X509ExtendedKeyManager {
        final X509KeyManager base;
        volatile boolean asked;
        volatile String chosen;
        volatile List<String> issuers = List.of();

        Recorder(X509KeyManager base) {
            this.base = base;
        }

        void reset() {
            asked = false;
            chosen = null;
            issuers = List.of();
        }

        String record(String alias, Principal[] issuers) {
            asked = true;
            if (issuers != null && this.issuers.isEmpty()) {
                List<String> names = new ArrayList<>();
                for (Principal p : issuers) {
                    names.add(p.getName());
                }
                this.issuers = names;
            }
            if (alias != null && chosen == null) {
                chosen = alias;
            }
            return alias;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return record(base.chooseClientAlias(keyType, issuers, socket), issuers);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            String alias = base instanceof X509ExtendedKeyManager
                    ? ((X509ExtendedKeyManager) base).chooseEngineClientAlias(keyType, issuers, engine)
                    : base.chooseClientAlias(keyType, issuers, null);
            return record(alias, issuers);
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return base.getClientAliases(keyType, issuers);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return base.getServerAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return base.chooseServerAlias(keyType, issuers, socket);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return base.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return base.getPrivateKey(alias);
        }
    }

    static char[] readPassword(BufferedReader in, String what) throws IOException {
        String line = in.readLine();
        if (line == null) {
            throw new IOException("standard input ended before the " + what + " line");
        }
        byte[] raw = Base64.getDecoder().decode(line.trim());
        CharBuffer chars = StandardCharsets.UTF_8.decode(ByteBuffer.wrap(raw));
        char[] out = new char[chars.remaining()];
        chars.get(out);
        Arrays.fill(raw, (byte) 0);
        if (chars.hasArray()) {
            Arrays.fill(chars.array(), '\0');
        }
        return out;
    }

    static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            if (b.length() > 8192) {
                throw new IOException("status line longer than 8192 bytes");
            }
            if (c != '\r') {
                b.append((char) c);
            }
        }
        if (c < 0 && b.length() == 0) {
            throw new IOException("the server closed the connection without a response");
        }
        return b.toString();
    }

    static String sha256(Certificate c) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(c.getEncoded()));
        } catch (Exception e) {
            return "";
        }
    }

    static String describe(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (b.length() > 0) {
                b.append(": ");
            }
            b.append(t.getClass().getName());
            if (t.getMessage() != null) {
                b.append(" ").append(t.getMessage());
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return b.toString();
    }

    static synchronized void emit(String line) {
        OUT.println(line);
    }

    // q quotes s as a JSON string.
    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }
}
