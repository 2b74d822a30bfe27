// Copied from renewal/probe/testdata/JavaClient.java (same repository), so
// that this package's tests do not read another package's files.
//
// JavaClient sends one HTTPS request with the client certificate Java's
// default key manager chooses from a JKS keystore, and prints "status N" or
// "error: <exception>". The store password is read from standard input, so
// that it is on no command line.
//
// Usage: java JavaClient.java keystore.jks https://127.0.0.1:port/path
//
// Test code only: the server's certificate is not verified (the tests check
// the client side of the key manager, not the server's identity).
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.net.URL;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class JavaClient {
    public static void main(String[] args) throws Exception {
        char[] password = new BufferedReader(new InputStreamReader(System.in)).readLine().toCharArray();
        KeyStore ks = KeyStore.getInstance("JKS");
        try (FileInputStream in = new FileInputStream(args[0])) {
            ks.load(in, password);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, password);
        TrustManager[] trustAll = {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) {}
            public void checkServerTrusted(X509Certificate[] c, String a) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        }};
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), trustAll, null);
        HttpsURLConnection conn = (HttpsURLConnection) new URL(args[1]).openConnection();
        conn.setSSLSocketFactory(ctx.getSocketFactory());
        conn.setHostnameVerifier((h, s) -> true);
        conn.setConnectTimeout(10000);
        conn.setReadTimeout(10000);
        try {
            System.out.println("status " + conn.getResponseCode());
        } catch (Exception e) {
            System.out.println("error: " + e);
        }
    }
}
