package main

import (
	"crypto/x509"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListRefusals(t *testing.T) {
	f := newFixture(t, keystore.PKCS12)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"wrong password", []string{"list", f.path, "--storepass-env=CERTROLL_TEST_BADPW"}, exitUsage, "the password is wrong, or the file was tampered with"},
		{"no password and no terminal", []string{"list", f.path}, exitUsage, "give it in an environment variable or a file"},
		{"env and file", []string{"list", f.path, "--storepass-env=CERTROLL_TEST_PW", "--storepass-file=pw.txt"}, exitUsage, "not both"},
		{"bad window", []string{"list", f.path, "--storepass-env=CERTROLL_TEST_PW", "--expiring", "soon"}, exitUsage, `--expiring "soon": want a number of days`},
		{"not a keystore", []string{"list", f.file(t, "notes.txt", []byte("hello\n")), "--storepass-env=CERTROLL_TEST_PW"}, exitUsage, "is not a keystore certroll can read"},
		{"missing receiver", []string{"list", f.path, "--storepass-env=CERTROLL_TEST_PW", "--receiver", filepath.Join(f.dir, "none.pem")}, exitUsage, "truststore " + filepath.Join(f.dir, "none.pem") + " does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(tt.args...)
			assert.Equal(t, tt.code, code, stderr)
			assert.Contains(t, stderr, tt.msg)
			assert.NotContains(t, stderr, testPW)
		})
	}
}

func TestListReceiverAndExpiry(t *testing.T) {
	f := newFixture(t, keystore.JKS)
	// A receiver truststore in JKS with its own password, trusting the old root.
	ts := keystore.New(keystore.JKS, nil)
	require.NoError(t, ts.Set(&keystore.Entry{Alias: "oldroot", Chain: []*x509.Certificate{f.oldCA.Cert}}, nil))
	tsPath := filepath.Join(f.dir, "receiver.jks")
	require.NoError(t, ts.Save(tsPath, []byte("trustpw"), nil))
	pwFile := f.file(t, "trustpw.txt", []byte("trustpw\n"))

	code, _, stderr := runCmd("list", f.path, "--storepass-env=CERTROLL_TEST_PW", "--receiver", tsPath)
	assert.Equal(t, exitUsage, code, "a JKS truststore needs its password")
	assert.Contains(t, stderr, "receiver truststore password is needed")

	code, out, stderr := runCmd("list", f.path, "--storepass-env=CERTROLL_TEST_PW", "--receiver", tsPath, "--receiver-storepass-file", pwFile, "--expiring", "400d", "--json")
	require.Equal(t, exitOK, code, stderr)
	var doc struct {
		Format   string `json:"format"`
		Entries  []map[string]any
		Profile  *struct{} `json:"pkcs12_profile"`
		Receiver struct {
			Accepted []string `json:"accepted"`
		} `json:"receiver"`
		Expiring struct {
			Entries []struct {
				Alias string `json:"alias"`
			} `json:"entries"`
		} `json:"expiring"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, "JKS", doc.Format)
	assert.Len(t, doc.Entries, 2)
	assert.Nil(t, doc.Profile, "a JKS store has no PKCS#12 profile")
	assert.Equal(t, []string{"client"}, doc.Receiver.Accepted)
	require.Len(t, doc.Expiring.Entries, 1, "the client certificate (a year) expires within 400 days, the root (ten years) does not")
	assert.Equal(t, "client", doc.Expiring.Entries[0].Alias)
}

func TestListPasswordless(t *testing.T) {
	f := newFixture(t, keystore.PKCS12)
	ts := keystore.New(keystore.PKCS12, nil)
	require.NoError(t, ts.SetProfile(keystore.Passwordless))
	require.NoError(t, ts.Set(&keystore.Entry{Alias: "newroot", Chain: []*x509.Certificate{f.newCA.Cert}}, nil))
	path := filepath.Join(f.dir, "cacerts.p12")
	require.NoError(t, ts.Save(path, nil, nil))

	code, out, stderr := runCmd("list", path)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "Alias name: newroot")
	assert.Contains(t, out, "PKCS#12 profile: Passwordless")
}

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"12h", 12 * time.Hour, true},
		{"0d", 0, true},
		{"-1d", 0, false},
		{"d", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWindow(tt.in)
			if !tt.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
