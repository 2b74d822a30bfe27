package keystore

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smallstep/pkcs7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

// TestListingNamesAsKeytool: the Owner, Issuer, Serial number and SHA256
// lines of WriteListing are the lines keytool -list -v prints for the
// same store, so a user can compare the two outputs line by line. The
// names are the ones an administrator types: several attributes, a value
// with a comma, an e-mail address.
func TestListingNamesAsKeytool(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "names.p12")
	pw := []byte("changeit")
	pwFile := writeSecretFile(t, dir, pw)
	runKeytool(t, "-genkeypair", "-keystore", path, "-storetype", "PKCS12", "-storepass:file", pwFile,
		"-alias", "client", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "30",
		"-dname", `CN=Tenant Client, OU=Ops, O="Example, Inc.", L=Berlin, ST=Berlin, C=DE, EMAILADDRESS=ops@example.com`)
	out := runKeytool(t, "-list", "-v", "-keystore", path, "-storetype", "PKCS12", "-storepass:file", pwFile)

	s, err := Open(path, pw, nil)
	require.NoError(t, err)
	var ours bytes.Buffer
	require.NoError(t, s.WriteListing(&ours))

	pick := func(listing string) []string {
		var lines []string
		for _, l := range strings.Split(listing, "\n") {
			l = strings.TrimSpace(l)
			for _, p := range []string{"Owner: ", "Issuer: ", "Serial number: ", "SHA256: "} {
				if strings.HasPrefix(l, p) {
					lines = append(lines, l)
				}
			}
		}
		return lines
	}
	want := pick(out)
	require.Len(t, want, 4, "keytool printed:\n%s", out)
	assert.Equal(t, want, pick(ours.String()))
	assert.Contains(t, ours.String(), `Owner: CN=Tenant Client, OU=Ops, O="Example, Inc.", L=Berlin, ST=Berlin, C=DE, EMAILADDRESS=ops@example.com`)
}

// TestAliasNotFoundListsAliases: the error names the aliases the store
// has, a few of them, with the right number.
func TestAliasNotFoundListsAliases(t *testing.T) {
	root := testpki.NewRoot(t, "Listed Root")
	s := New(JKS, nil)
	_, err := s.Entry("client")
	require.ErrorIs(t, err, ErrAliasNotFound)
	assert.EqualError(t, err, `keystore: alias not found: "client" (the store is empty)`)

	add := func(alias string) {
		require.NoError(t, s.Set(&Entry{Alias: alias, Chain: []*x509.Certificate{root.Cert}}, nil))
	}
	add("clinet")
	_, err = s.Entry("client")
	assert.EqualError(t, err, `keystore: alias not found: "client" (the store has 1 entry: "clinet")`)
	for _, a := range []string{"b", "c", "d", "e", "f", "g"} {
		add(a)
	}
	_, err = s.Kind("client")
	assert.EqualError(t, err, `keystore: alias not found: "client" (the store has 7 entries: "clinet", "b", "c", "d", "e" and 2 more)`)
}

// TestOpenNamesWhatItIsNot: a certificate bundle given as a keystore says
// it is one and what to do with it; the JCEKS hint names the real file;
// a message does not repeat the package's name.
func TestOpenNamesWhatItIsNot(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewRoot(t, "Bundle Root").Intermediate(t, "Bundle CA")
	leaf := ca.Leaf(t, "bundled")
	p7 := filepath.Join(dir, "reply.p7b")
	var all []byte
	for _, c := range leaf.Chain {
		all = append(all, c.Raw...)
	}
	bundle, err := pkcs7.DegenerateCertificate(all)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p7, bundle, 0o600))
	_, err = Open(p7, []byte("changeit"), nil)
	require.ErrorIs(t, err, ErrUnsupportedFormat)
	assert.Contains(t, err.Error(), "the input is a certificate bundle (2 certificates, first \"CN=bundled, O=certroll test\")")
	assert.Contains(t, err.Error(), "use it as a CA reply")
	assert.Equal(t, 1, strings.Count(err.Error(), "keystore:"), err.Error())

	jceks := filepath.Join(dir, "my store.jceks")
	require.NoError(t, os.WriteFile(jceks, []byte{0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2}, 0o600))
	_, err = Open(jceks, []byte("changeit"), nil)
	require.ErrorIs(t, err, ErrUnsupportedFormat)
	assert.Contains(t, err.Error(), "-srckeystore '"+jceks+"' -srcstoretype JCEKS -destkeystore '"+filepath.Join(dir, "my store.p12")+"'")
	assert.Equal(t, 1, strings.Count(err.Error(), "keystore:"), err.Error())

	s := New(PKCS12, nil)
	data, err := s.Marshal([]byte("right"))
	require.NoError(t, err)
	_, err = Parse(data, []byte("wrong"), nil)
	require.ErrorIs(t, err, ErrIncorrectPassword)
	assert.Equal(t, 1, strings.Count(err.Error(), "keystore"), "no stutter: %s", err)
}
