package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

func TestDemo(t *testing.T) {
	for _, format := range []string{"jks", "pkcs12"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run([]string{"-format", format, "-key-type", "ec-p256"}, &out))
			before, after, ok := strings.Cut(out.String(), "After:")
			require.True(t, ok, "output:\n%s", out.String())
			assert.Contains(t, before, "Issuer: CN=Old Root CA")
			assert.Contains(t, after, "Issuer: CN=New Root CA")
			assert.Equal(t, 3, strings.Count(after, "Alias name:"), "every entry is still there")
			assert.Contains(t, after, "Alias name: partner-b")
		})
	}
}

// TestTwoStepsWithRealTools renews an alias of a keystore that keytool
// made, with the CSR signed by an openssl CA, and checks the result with
// keytool.
func TestTwoStepsWithRealTools(t *testing.T) {
	for _, storetype := range []string{"JKS", "PKCS12"} {
		t.Run(storetype, func(t *testing.T) {
			dir := t.TempDir()
			ks := filepath.Join(dir, "client.ks")
			pwFile := filepath.Join(dir, "pw")
			require.NoError(t, os.WriteFile(pwFile, []byte("changeit\n"), 0o600))
			keytool(t, "-genkeypair", "-keystore", ks, "-storetype", storetype, "-storepass", "changeit", "-keypass", "changeit",
				"-alias", "Client", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=tenant-client,O=Tenant", "-validity", "30")
			keytool(t, "-genkeypair", "-keystore", ks, "-storetype", storetype, "-storepass", "changeit", "-keypass", "changeit",
				"-alias", "other", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=other", "-validity", "30")
			otherBefore := fingerprintLine(t, keytool(t, "-list", "-keystore", ks, "-storepass", "changeit", "-alias", "other"))

			// The new CA, made and run by openssl.
			caKey, caCert := filepath.Join(dir, "ca.key"), filepath.Join(dir, "ca.pem")
			openssl(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", caKey,
				"-out", caCert, "-subj", "/CN=New Root CA", "-days", "30")

			csr := filepath.Join(dir, "client.csr")
			var out bytes.Buffer
			require.NoError(t, run([]string{"-keystore", ks, "-alias", "client", "-password-file", pwFile,
				"-new-csr", csr, "-key-type", "ec-p256"}, &out))
			assert.Contains(t, out.String(), "renewal CSR")
			fi, err := os.Stat(ks + ".pending")
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the pending key file is 0600")

			ext := filepath.Join(dir, "ext.cnf")
			require.NoError(t, os.WriteFile(ext, []byte("extendedKeyUsage=clientAuth\n"), 0o600))
			reply := filepath.Join(dir, "reply.pem")
			openssl(t, "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-CAcreateserial",
				"-out", reply, "-days", "30", "-extfile", ext)

			out.Reset()
			require.NoError(t, run([]string{"-keystore", ks, "-alias", "client", "-password-file", pwFile,
				"-reply", reply, "-anchors", caCert}, &out))
			assert.Contains(t, out.String(), "installed chain of 2")

			// keytool sees the new certificate under the same alias, the
			// other entry unchanged, and no pending file remains.
			listing := keytool(t, "-list", "-v", "-keystore", ks, "-storepass", "changeit", "-alias", "client")
			assert.Contains(t, listing, "Alias name: client")
			assert.Contains(t, listing, "Issuer: CN=New Root CA")
			assert.Contains(t, listing, "Certificate chain length: 2")
			assert.Equal(t, otherBefore, fingerprintLine(t, keytool(t, "-list", "-keystore", ks, "-storepass", "changeit", "-alias", "other")))
			_, err = os.Stat(ks + ".pending")
			assert.True(t, os.IsNotExist(err))
			_, err = os.Stat(ks + ".bak")
			assert.NoError(t, err, "the previous keystore is kept as a backup")

			s, err := keystore.Open(ks, []byte("changeit"))
			require.NoError(t, err)
			assert.Len(t, s.Aliases(), 2)
		})
	}
}

func TestFlagErrors(t *testing.T) {
	t.Setenv("CERTROLL_PASSWORD", "x")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no step", []string{"-keystore", "k"}, "give -new-csr FILE"},
		{"both steps", []string{"-keystore", "k", "-new-csr", "a", "-reply", "b"}, "not both"},
		{"bad format", []string{"-format", "jceks"}, "want jks or pkcs12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, &bytes.Buffer{})
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func keytool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("keytool", append([]string{"-J-Duser.language=en"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "keytool %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func openssl(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	require.NoError(t, err, "openssl %s:\n%s", strings.Join(args, " "), out)
}

func fingerprintLine(t *testing.T, listing string) string {
	t.Helper()
	for _, l := range strings.Split(listing, "\n") {
		if strings.Contains(l, "SHA-256") || strings.Contains(l, "SHA256") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("no fingerprint in:\n%s", listing)
	return ""
}
