package main

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInstallReply(t *testing.T) {
	for _, format := range []keystore.Format{keystore.JKS, keystore.PKCS12} {
		t.Run(format.String(), func(t *testing.T) {
			f := newFixture(t, format)
			pw := "--storepass-env=CERTROLL_TEST_PW"
			code, csr, stderr := runCmd("csr", f.path, "client", pw)
			require.Equal(t, exitOK, code, stderr)
			reply, err := f.newCA.SignCSR([]byte(csr))
			require.NoError(t, err)
			// The reply as a CA may send it: root first.
			replyPath := f.file(t, "reply.pem", pemCerts([]*x509.Certificate{reply[1], reply[0]}))
			rootPath := f.file(t, "newroot.pem", pemCerts(reply[1:]))

			// A reply for the old key: the old CA re-signed the entry's own key.
			oldKeyChain, err := f.newCA.Issue("tenant-client", f.clientCert.PublicKey)
			require.NoError(t, err)
			otherKey := f.file(t, "other-key.pem", pemCerts(oldKeyChain[:1]))
			// A reply from a CA nobody trusts.
			strangerKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
			require.NoError(t, err)
			stranger, err := f.newCA.Issue("stranger", strangerKey.Public())
			require.NoError(t, err)
			garbage := f.file(t, "garbage.pem", []byte("not a certificate\n"))

			before, err := os.ReadFile(f.path)
			require.NoError(t, err)
			staged, err := os.ReadFile(stagingPath(f.path))
			require.NoError(t, err)
			tests := []struct {
				name string
				args []string
				code int
				msg  string
			}{
				{"reply for another key", []string{"install-reply", f.path, "client", otherKey, pw, "--anchors", rootPath}, exitRefused, "certifies another key than the new key certroll csr kept in " + stagingPath(f.path)},
				{"reply for a stranger's key", []string{"install-reply", f.path, "client", f.file(t, "stranger.pem", pemCerts(stranger)), pw}, exitRefused, "certifies another key"},
				{"no anchor", []string{"install-reply", f.path, "client", replyPath, pw}, exitRefused, "does not chain to a trusted certificate: give the CA's root"},
				{"trusted alias", []string{"install-reply", f.path, "oldroot", replyPath, pw, "--anchors", rootPath}, exitUsage, "is a trusted certificate entry (trustedCertEntry)"},
				{"wrong password", []string{"install-reply", f.path, "client", replyPath, "--storepass-env=CERTROLL_TEST_BADPW", "--anchors", rootPath}, exitUsage, "the password is wrong"},
				{"garbage reply", []string{"install-reply", f.path, "client", garbage, pw, "--anchors", rootPath}, exitUsage, "holds no certificate certroll can read"},
				{"missing reply", []string{"install-reply", f.path, "client", replyPath + ".nope", pw}, exitUsage, "does not exist"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, _, stderr := runCmd(tt.args...)
					assert.Equal(t, tt.code, code, stderr)
					assert.Contains(t, stderr, tt.msg)
					assert.NotContains(t, stderr, testPW)
				})
			}

			// The dry run says what would change and writes nothing.
			code, out, stderr := runCmd("install-reply", f.path, "client", replyPath, pw, "--anchors", rootPath, "--dry-run")
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, out, "Dry run: certificate reply would be installed")
			assert.Contains(t, out, "Certificate chain length: 2")

			after, err := os.ReadFile(f.path)
			require.NoError(t, err)
			assert.Equal(t, before, after, "refusals and the dry run leave the keystore as it was")
			nowStaged, err := os.ReadFile(stagingPath(f.path))
			require.NoError(t, err)
			assert.Equal(t, staged, nowStaged, "and the pending key too")

			code, out, stderr = runCmd("install-reply", f.path, "client", replyPath, pw, "--anchors", rootPath)
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, out, "Certificate reply was installed in keystore "+f.path)
			assert.NoFileExists(t, stagingPath(f.path))
			assert.FileExists(t, f.path+".history")

			ks, err := keystore.Open(f.path, []byte(testPW), nil)
			require.NoError(t, err)
			assert.Equal(t, []string{"client", "oldroot"}, ks.Aliases())
			e, err := ks.Entry("client")
			require.NoError(t, err)
			assert.Equal(t, keystore.CertFingerprint(reply[0]), keystore.CertFingerprint(e.Leaf()))

			// Now there is no pending key: a reply for the entry's own key,
			// from the store's trusted entries, installs onto it.
			own, err := f.oldCA.Issue("tenant-client", e.Key.Public())
			require.NoError(t, err)
			code, out, stderr = runCmd("install-reply", f.path, "client", f.file(t, "own.pem", pemCerts(own[:1])), pw)
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, out, "Key: the entry's own key")
			assert.FileExists(t, f.path+".bak")
		})
	}
}
