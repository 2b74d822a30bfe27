// Client is a Java TLS client for the keystore package's interoperability
// tests: it loads a keystore the library wrote, uses it as its key store
// (KeyManagerFactory, as a Java integration runtime does) and makes one
// HTTPS GET with it, so that the server sees which client certificate Java
// chose and can check it is the one the library put in.
//
// Usage (a single-file program, Java 17 or later):
//
//	java Client.java <keystore> <storetype> <password-file> <trusted-cert-file>... <host:port>
//
// <storetype> is a java.security.KeyStore type (JKS, PKCS12). The password
// file holds the store password in UTF-8, without a trailing newline; key
// entries must be protected by the same password. Each trusted-cert-file
// holds PEM or DER certificates that may sign the server's certificate.
// The response is printed after a line "status <code>"; the SHA-256 of the
// client certificate Java presented is printed as "client-sha256 <hex>".
// Any failure exits non-zero with the exception.
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.HexFormat;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class Client {
    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: java Client.java <keystore> <storetype> <password-file> <trusted-cert-file>... <host:port>");
            System.exit(2);
        }
        Path keystorePath = Path.of(args[0]);
        String storeType = args[1];
        char[] password = Files.readString(Path.of(args[2]), StandardCharsets.UTF_8).toCharArray();
        String hostPort = args[args.length - 1];

        KeyStore keys = KeyStore.getInstance(storeType);
        try (InputStream in = Files.newInputStream(keystorePath)) {
            keys.load(in, password);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, password);

        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        int n = 0;
        for (int i = 3; i < args.length - 1; i++) {
            try (InputStream in = Files.newInputStream(Path.of(args[i]))) {
                for (Certificate c : cf.generateCertificates(in)) {
                    trust.setCertificateEntry("trusted-" + n++, c);
                }
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);

        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);

        HttpsURLConnection conn = (HttpsURLConnection) new URL("https://" + hostPort + "/").openConnection();
        conn.setSSLSocketFactory(ctx.getSocketFactory());
        conn.setConnectTimeout(20000);
        conn.setReadTimeout(20000);
        int status = conn.getResponseCode();
        // Asked before the body is read: reading it to the end hands the
        // connection back to the keep-alive cache.
        Certificate[] presented = conn.getLocalCertificates();
        String body;
        try (InputStream in = conn.getInputStream()) {
            body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        System.out.println("status " + status);
        if (presented != null && presented.length > 0) {
            byte[] sum = MessageDigest.getInstance("SHA-256").digest(presented[0].getEncoded());
            System.out.println("client-sha256 " + HexFormat.of().formatHex(sum));
        }
        System.out.println(body);
        conn.disconnect();
    }
}
