package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerify(t *testing.T) {
	f := newFixture(t, keystore.PKCS12)
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	chain, err := f.newCA.Issue("tenant-client", key.Public())
	require.NoError(t, err)
	chainPath := f.file(t, "chain.pem", pemCerts([]*x509.Certificate{chain[1], chain[0]}))
	newRoot := f.file(t, "new.pem", pemCerts(chain[1:]))
	oldRoot := f.file(t, "old.pem", pemCerts([]*x509.Certificate{f.oldCA.Cert}))
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	keyPath := f.file(t, "client.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	otherKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	der, err = x509.MarshalPKCS8PrivateKey(otherKey)
	require.NoError(t, err)
	otherKeyPath := f.file(t, "other.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))

	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout
		msg  string // in stderr
	}{
		{"accepted", []string{"verify", chainPath, "--receiver", newRoot}, exitOK, "Verdict: accepted by a receiver trusting " + newRoot, ""},
		{"a keystore as the truststore, trusting the old root", []string{"verify", chainPath, "--receiver", f.path, "--receiver-storepass-env=CERTROLL_TEST_PW"}, exitRefused, "unknown authority", "refuses chain"},
		{"refused", []string{"verify", chainPath, "--receiver", oldRoot}, exitRefused, "Verdict: refused by a receiver trusting " + oldRoot, "refuses chain " + chainPath + " (1 problem(s), listed above)"},
		{"refused as JSON", []string{"verify", chainPath, "--receiver", oldRoot, "--json"}, exitRefused, `"accepted": false`, ""},
		{"no receiver", []string{"verify", chainPath}, exitUsage, "", "verify needs --receiver TRUSTSTORE"},
		{"key without url", []string{"verify", chainPath, "--receiver", newRoot, "--key", keyPath}, exitUsage, "", "give --url too"},
		{"url without key", []string{"verify", chainPath, "--receiver", newRoot, "--url", "https://127.0.0.1:1/"}, exitUsage, "", "--url needs --key FILE"},
		{"key of another chain", []string{"verify", chainPath, "--receiver", newRoot, "--url", "https://127.0.0.1:1/", "--key", otherKeyPath}, exitUsage, "", "cannot probe https://127.0.0.1:1/"},
		{"not a key", []string{"verify", chainPath, "--receiver", newRoot, "--url", "https://127.0.0.1:1/", "--key", chainPath}, exitUsage, "", "holds no PEM private key"},
		{"not a chain", []string{"verify", keyPath, "--receiver", newRoot}, exitUsage, "", "holds no certificate certroll can read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, nil, &out, &errOut)
			assert.Equal(t, tt.code, code, errOut.String())
			assert.Contains(t, out.String(), tt.out)
			assert.Contains(t, errOut.String(), tt.msg)
		})
	}
}
