// P12Tool does what keytool cannot do with PKCS#12 stores, for the
// interoperability tests. Passwords are read from files (UTF-8, whole
// file), never taken from the command line.
//
//   java P12Tool.java setkeypass STORE STOREPASSFILE ALIAS KEYPASSFILE
//     Re-protects ALIAS's key with its own password, as keytool did for
//     PKCS#12 stores before JDK 9 ("two password" stores). keytool 17
//     ignores -keypass for PKCS#12; the KeyStore API still allows it.
//
//   java P12Tool.java keycheck STORE STORETYPE STOREPASSFILE ALIAS KEYPASSFILE
//     Decrypts ALIAS's key, signs with it, verifies the signature with the
//     leaf certificate's public key and prints "key-ok SHA256:<base64>",
//     the SHA-256 of that public key (as keystore.KeyFingerprint prints it).
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.cert.Certificate;
import java.util.Base64;

public class P12Tool {
  static char[] secret(String path) throws IOException {
    return new String(Files.readAllBytes(Path.of(path)), StandardCharsets.UTF_8).toCharArray();
  }

  public static void main(String[] a) throws Exception {
    switch (a[0]) {
      case "setkeypass": {
        char[] sp = secret(a[2]), kp = secret(a[4]);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(a[1])) { ks.load(in, sp); }
        Key k = ks.getKey(a[3], sp);
        Certificate[] chain = ks.getCertificateChain(a[3]);
        ks.setKeyEntry(a[3], k, kp, chain);
        try (OutputStream out = new FileOutputStream(a[1])) { ks.store(out, sp); }
        return;
      }
      case "keycheck": {
        KeyStore ks = KeyStore.getInstance(a[2]);
        try (InputStream in = new FileInputStream(a[1])) { ks.load(in, secret(a[3])); }
        PrivateKey k = (PrivateKey) ks.getKey(a[4], secret(a[5]));
        PublicKey pub = ks.getCertificateChain(a[4])[0].getPublicKey();
        String alg = k.getAlgorithm().equals("EC") ? "SHA256withECDSA" : k.getAlgorithm().equals("RSA") ? "SHA256withRSA" : k.getAlgorithm();
        Signature s = Signature.getInstance(alg);
        s.initSign(k);
        s.update("certroll".getBytes(StandardCharsets.UTF_8));
        byte[] sig = s.sign();
        s.initVerify(pub);
        s.update("certroll".getBytes(StandardCharsets.UTF_8));
        if (!s.verify(sig)) {
          throw new Exception("the key of " + a[4] + " does not match its certificate");
        }
        byte[] sum = MessageDigest.getInstance("SHA-256").digest(pub.getEncoded());
        System.out.println("key-ok SHA256:" + Base64.getEncoder().withoutPadding().encodeToString(sum));
        return;
      }
      default:
        throw new IllegalArgumentException("unknown command " + a[0]);
    }
  }
}
