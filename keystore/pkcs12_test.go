package keystore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// p12Clock is the clock of every PKCS#12 test: entries without Java's
// "Time <millis>" localKeyId are dated when read, so two reads of one file
// agree only with a fixed clock.
func p12Clock() time.Time { return testpki.Now }

func p12Vector(t testing.TB, name string) []byte {
	t.Helper()
	return mustRead(t, filepath.Join("testdata", "pkcs12", filepath.FromSlash(name)))
}

func p12RefCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(p12Vector(t, "refcerts/"+name))
	require.NotNil(t, block, name)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

// p12Rand is a deterministic source of salts and IVs.
func p12Rand(seed int64) io.Reader { return rand.New(rand.NewSource(seed)) }

// p12Want is an entry as keytool lists it: alias, kind, and the common
// names of its chain, leaf first.
type p12Want struct {
	alias string
	kind  EntryKind
	chain []string
}

func p12Key(alias string, chain ...string) p12Want { return p12Want{alias, KeyEntry, chain} }
func p12Trusted(alias, cn string) p12Want          { return p12Want{alias, TrustedEntry, []string{cn}} }

const (
	cnCryptographyCA = "cryptography CA"
	cnCryptographyIO = "www.cryptography.io"
	cnLetsEncryptX3  = "Let's Encrypt Authority X3"
)

// p12Entries lists s as p12Wants, checking on the way that every key
// decrypts and matches its leaf.
func p12Entries(t testing.TB, s *Store) []p12Want {
	t.Helper()
	var out []p12Want
	for _, alias := range s.Aliases() {
		e, err := s.Entry(alias)
		require.NoError(t, err, alias)
		w := p12Want{alias: e.Alias, kind: e.Kind()}
		for _, c := range e.Chain {
			w.chain = append(w.chain, c.Subject.CommonName)
		}
		if e.Key != nil && len(e.Chain) > 0 {
			assert.Equal(t, KeyFingerprint(e.Chain[0].PublicKey), KeyFingerprint(e.Key.Public()), "alias %q: key does not match its leaf", alias)
		}
		out = append(out, w)
	}
	return out
}

func p12OtherCNs(t testing.TB, s *Store) []string {
	t.Helper()
	certs, err := s.OtherCertificates()
	require.NoError(t, err)
	var out []string
	for _, c := range certs {
		out = append(out, c.Subject.CommonName)
	}
	return out
}

// p12Vectors is what every PKCS#12 vector of the corpus holds, per
// testdata/pkcs12's INDEX (the expected result is what keytool or OpenSSL
// read), or the error expected.
var p12Vectors = []struct {
	file     string
	password string
	entries  []p12Want
	others   []string // OtherCertificates, by common name
	profile  string   // Profile().Name()
	err      error
	errText  string // in the error
}{
	// pyca/cryptography. Keytool names a key without friendlyName "1".
	{file: "cert-key-aes256cbc.p12", password: "cryptography", entries: []p12Want{p12Key("1", cnCryptographyCA)}, profile: "custom"},
	// keytool lists nothing: Java ignores unencrypted keyBags; OpenSSL
	// reads the key and certificate, and so does this package.
	{file: "cert-none-key-none.p12", password: "cryptography", entries: []p12Want{p12Key("1", cnCryptographyCA)}, profile: "custom"},
	{file: "cert-rc2-key-3des.p12", password: "cryptography", entries: []p12Want{p12Key("1", cnCryptographyCA)}, profile: "custom"},
	// A certificate of no key and without Java's trust attribute: kept
	// and reported, not an entry (keytool lists 0 entries).
	{file: "cert-aes256cbc-no-key.p12", password: "cryptography", others: []string{cnCryptographyCA}, profile: "custom"},
	// A key without a certificate: keytool lists a PrivateKeyEntry with
	// no chain.
	{file: "no-cert-key-aes256cbc.p12", password: "cryptography", entries: []p12Want{{"1", KeyEntry, nil}}, profile: "custom"},
	// The key's friendlyName "6BC162DA" ends with a NUL, dropped.
	{file: "no-password.p12", password: "", entries: []p12Want{p12Key("6BC162DA", cnCryptographyCA)}, profile: "custom"},
	{file: "no-name-pwd.p12", password: "password", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-name-no-pwd.p12", password: "", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-1-pwd.p12", password: "password", entries: []p12Want{p12Key("name", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-1-no-pwd.p12", password: "", entries: []p12Want{p12Key("name", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	// Names on certificates of no key name nothing keytool lists.
	{file: "name-2-pwd.p12", password: "password", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-2-no-pwd.p12", password: "", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-3-pwd.p12", password: "password", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-3-no-pwd.p12", password: "", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-2-3-pwd.p12", password: "password", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-2-3-no-pwd.p12", password: "", entries: []p12Want{p12Key("1", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-all-pwd.p12", password: "password", entries: []p12Want{p12Key("name", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-all-no-pwd.p12", password: "", entries: []p12Want{p12Key("name", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-unicode-pwd.p12", password: "password", entries: []p12Want{p12Key("☺", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "name-unicode-no-pwd.p12", password: "", entries: []p12Want{p12Key("☺", cnCryptographyCA)}, others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-no-name-pwd.p12", password: "password", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-no-name-no-pwd.p12", password: "", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-2-pwd.p12", password: "password", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-2-no-pwd.p12", password: "", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-3-pwd.p12", password: "password", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-3-no-pwd.p12", password: "", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-all-pwd.p12", password: "password", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-all-no-pwd.p12", password: "", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-unicode-pwd.p12", password: "password", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},
	{file: "no-cert-name-unicode-no-pwd.p12", password: "", others: []string{cnCryptographyIO, cnLetsEncryptX3}, profile: "custom"},

	// go-pkcs12's vectors. RFC 9579 A.1-A.3 have no friendlyName.
	{file: "go-pkcs12/rfc9579-a1.p12", password: "1234", entries: []p12Want{p12Key("1", "tt")}, profile: "custom"},
	{file: "go-pkcs12/rfc9579-a2.p12", password: "1234", entries: []p12Want{p12Key("1", "tt")}, profile: "custom"},
	{file: "go-pkcs12/rfc9579-a3.p12", password: "1234", entries: []p12Want{p12Key("1", "tt")}, profile: "custom"},
	{file: "go-pkcs12/rfc9579-a4.p12", password: "1234", err: ErrIncorrectPassword, errText: "MAC does not match"},
	{file: "go-pkcs12/rfc9579-a5.p12", password: "1234", err: ErrIncorrectPassword, errText: "MAC does not match"},
	{file: "go-pkcs12/rfc9579-a6.p12", password: "1234", err: ErrMalformed, errText: "keyLength: missing"},
	// A 1-octet PBMAC1 key is refused whatever the password.
	{file: "go-pkcs12/pbmac1-short-key-bypass.p12", password: "realpassword", err: ErrMalformed, errText: "want at least 20 octets"},
	{file: "go-pkcs12/pbmac1-short-key-bypass.p12", password: "fakepassword", err: ErrMalformed, errText: "want at least 20 octets"},
	{file: "go-pkcs12/windows-azure-tools-nullpw.p12", password: "", entries: []p12Want{p12Key("{B4A4FEB0-A18A-44BB-B5F2-491EF152BA16}", "Windows Azure Tools")}, profile: "custom"},
	{file: "go-pkcs12/testing-example-com-emptypw.p12", password: "", entries: []p12Want{p12Key("Friendly name for cert", "testing@example.com")}, profile: "custom"},
	{file: "go-pkcs12/windows-certmgr-pbes2-aes256cbc.p12", password: "password", entries: []p12Want{p12Key("te-c6bda622-30a4-4ecb-a844-19ccbf12a511", "*.ad.standalone.com")}, profile: "custom"},
	{file: "go-pkcs12/pbes2-aes128cbc.p12", password: "rHyQTJsubhfxcpH5JttyilHE6BBsNoZp", entries: []p12Want{p12Key("example-com", "example-com")}, profile: "custom"},
	{file: "go-pkcs12/pbes2-aes192cbc.p12", password: "password", entries: []p12Want{p12Key("name", "example-com")}, profile: "custom"},

	// OpenSSL's test data.
	{file: "openssl/bad1.p12", password: "", err: ErrMalformed, errText: "PFX.authSafe.content"},
	{file: "openssl/bad2.p12", password: "", err: ErrMalformed, errText: "authSafe[0].content"},
	{file: "openssl/bad3.p12", password: "", err: ErrMalformed, errText: "authSafe[0].content"},
	{file: "openssl/garbage-pkcs12.p12", password: "anything", err: ErrMalformed, errText: "PFX.version"},
	// BER with indefinite lengths and a constructed encryptedContent.
	{file: "openssl/test-BER.p12", password: "12345", entries: []p12Want{p12Key("Docker_Playground_TLS", "Docker_Playground_TLS", "TLS_ISSUING_CA", "TLS_ROOTCA")}, profile: "custom"},
	{file: "openssl/shibboleth.pfx", password: "σύνθημα γνώρισμα", entries: []p12Want{p12Key("3f71af65-1687-444a-9f46-c8be194c3e8e", "anonymous")}, profile: "custom"},
	// Two certificates Go's parser rejects: the store reads, the error
	// comes per certificate from OtherCertificates (see the test).
	{file: "openssl/v3-certs-RC2.p12", password: "v3-certs", profile: "custom"},
	{file: "openssl/v3-certs-TDES.p12", password: "v3-certs", profile: "Legacy"},

	// keytool 17.
	{file: "keytool17/truststore-changeit.p12", password: "changeit", entries: []p12Want{p12Trusted("cryptography.io", cnCryptographyIO), p12Trusted("letsencryptx3", cnLetsEncryptX3)}, profile: "Modern2024"},
	{file: "keytool17/truststore-passwordless.p12", password: "", entries: []p12Want{p12Trusted("cryptography.io", cnCryptographyIO), p12Trusted("letsencryptx3", cnLetsEncryptX3)}, profile: "Passwordless"},
	{file: "keytool17/keypair-ec-changeit.p12", password: "changeit", entries: []p12Want{p12Key("mixed case key", "made-here")}, profile: "Modern2024"},
}

func TestPKCS12Vectors(t *testing.T) {
	for _, tt := range p12Vectors {
		t.Run(tt.file+"/"+tt.password, func(t *testing.T) {
			t.Parallel()
			data := p12Vector(t, tt.file)
			s, err := Parse(data, []byte(tt.password), &StoreOptions{Now: p12Clock})
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Contains(t, err.Error(), tt.errText)
				if tt.password != "" {
					assert.NotContains(t, err.Error(), tt.password)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, PKCS12, s.Format())
			assert.Equal(t, tt.entries, p12Entries(t, s))
			prof, ok := s.Profile()
			require.True(t, ok)
			assert.Equal(t, tt.profile, prof.presetName(), prof.describe())
			if strings.HasPrefix(tt.file, "openssl/v3-certs") {
				_, err := s.OtherCertificates()
				require.Error(t, err)
				assert.Contains(t, err.Error(), "other certificate 1")
				assert.Contains(t, err.Error(), "RSA key missing NULL parameters")
				assert.Equal(t, []keptBag{{Type: "certBag"}, {Type: "certBag"}}, s.keptBags())
				return
			}
			assert.Equal(t, tt.others, p12OtherCNs(t, s))
		})
	}
}

// TestPKCS12VectorCertificates checks the certificates of the pyca
// vectors byte for byte against the reference certificates, and the key
// against the CA key.
func TestPKCS12VectorCertificates(t *testing.T) {
	ca, io, x3 := p12RefCert(t, "ca.pem"), p12RefCert(t, "cryptography.io.pem"), p12RefCert(t, "letsencryptx3.pem")
	block, _ := pem.Decode(p12Vector(t, "refcerts/ca_key.pem"))
	require.NotNil(t, block)
	caKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	for _, tt := range []struct{ file, password string }{
		{"name-all-pwd.p12", "password"}, {"name-all-no-pwd.p12", ""}, {"no-name-pwd.p12", "password"},
		{"cert-rc2-key-3des.p12", "cryptography"}, {"no-password.p12", ""},
	} {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Parse(p12Vector(t, tt.file), []byte(tt.password), nil)
			require.NoError(t, err)
			e, err := s.Entry(s.Aliases()[0])
			require.NoError(t, err)
			require.Len(t, e.Chain, 1)
			assert.True(t, e.Chain[0].Equal(ca))
			assert.Equal(t, KeyFingerprint(caKey.(crypto.Signer).Public()), KeyFingerprint(e.Key.Public()))
			others, err := s.OtherCertificates()
			require.NoError(t, err)
			for i, c := range others {
				assert.True(t, c.Equal(io) || c.Equal(x3), "other certificate %d is %s", i, c.Subject)
			}
		})
	}
}

// TestPKCS12VectorsWrongPassword: every vector with a MAC refuses a wrong
// password; a file without MAC (a password-less truststore) opens with
// any.
func TestPKCS12VectorsWrongPassword(t *testing.T) {
	for _, tt := range p12Vectors {
		if tt.err != nil {
			continue
		}
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(p12Vector(t, tt.file), []byte(tt.password+"wrong"), nil)
			if tt.profile == "Passwordless" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrIncorrectPassword)
			assert.NotContains(t, err.Error(), tt.password+"wrong")
		})
	}
}

// TestPKCS12VectorsRoundTrip: for every vector that parses, parse →
// marshal → parse gives the same entries, other certificates and kept
// bags. Marshalling with the password read gives the file back byte for
// byte; with another password the file is rebuilt in the profile it was
// read with.
func TestPKCS12VectorsRoundTrip(t *testing.T) {
	for _, tt := range p12Vectors {
		if tt.err != nil {
			continue
		}
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data := p12Vector(t, tt.file)
			pw := []byte(tt.password)
			s, err := Parse(data, pw, &StoreOptions{Now: p12Clock})
			require.NoError(t, err)

			same, err := s.Marshal(pw)
			require.NoError(t, err)
			assert.Equal(t, data, same, "an untouched store should write back byte for byte")

			newPW := []byte("new " + tt.password)
			out, err := s.Marshal(newPW)
			require.NoError(t, err)
			back, err := Parse(out, newPW, &StoreOptions{Now: p12Clock})
			require.NoError(t, err)
			assertSameEntries(t, s, back)
			assert.Equal(t, p12Entries(t, s), p12Entries(t, back))
			assert.Equal(t, s.keptBags(), back.keptBags())
			wantProf, _ := s.Profile()
			gotProf, _ := back.Profile()
			assert.True(t, sameParams(wantProf, gotProf), "profile %v read back as %v", wantProf, gotProf)
			if !strings.HasPrefix(tt.file, "openssl/v3-certs") {
				assert.Equal(t, p12OtherCNs(t, s), p12OtherCNs(t, back))
			}
			if wantProf.mac.Kind != p12.NoMAC {
				_, err = Parse(out, pw, nil)
				require.ErrorIs(t, err, ErrIncorrectPassword, "the old password should no longer open the file")
			}
		})
	}
}

// p12Fixture is a store with two key entries (one with a chain of two)
// and two trusted certificates, from two CAs.
type p12Fixture struct {
	caA, caB     *testpki.CA
	client, alt  *testpki.Leaf
	rootA, rootB *x509.Certificate
}

func newP12Fixture(t testing.TB) *p12Fixture {
	t.Helper()
	f := &p12Fixture{caA: testpki.NewRoot(t, "Root A").Intermediate(t, "Issuing CA A"), caB: testpki.NewRoot(t, "Root B")}
	f.client = f.caA.Leaf(t, "tenant-client")
	f.alt = f.caB.Leaf(t, "other-client", testpki.WithKeyType(testpki.KeyRSA2048))
	f.rootA, f.rootB = f.caA.Root().Cert, f.caB.Cert
	return f
}

// store builds the fixture's store. The key entries' chains end with
// their roots because the store also holds the roots: Java builds a chain
// through every certificate of the file, so that is how keytool (and
// this package) read the chains back. The key entries are a second
// apart: PKCS#12 keeps creation dates only in Java's "Time <millis>"
// localKeyId, which must differ between entries.
func (f *p12Fixture) store(t testing.TB, opts *StoreOptions) *Store {
	t.Helper()
	o := StoreOptions{Now: p12Clock, Rand: p12Rand(1)}
	if opts != nil {
		o.KeyPasswords = opts.KeyPasswords
		if opts.Rand != nil {
			o.Rand = opts.Rand
		}
	}
	s := New(PKCS12, &o)
	at := func(i int) time.Time { return testpki.Now.Add(time.Duration(i) * time.Second) }
	require.NoError(t, s.Set(&Entry{Alias: "TenantClient", Created: at(0), Key: f.client.Key, Chain: append(f.client.Chain, f.rootA)}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "other", Created: at(1), Key: f.alt.Key, Chain: append(f.alt.Chain, f.rootB)}, nil))
	// PKCS#12 keeps no date for a trusted certificate (Java writes no
	// localKeyId for it): it is dated by the clock when read.
	require.NoError(t, s.Set(&Entry{Alias: "Root A", Created: at(0), Chain: []*x509.Certificate{f.rootA}}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "root b", Created: at(0), Chain: []*x509.Certificate{f.rootB}}, nil))
	return s
}

// profiled is the fixture's store, to be written with prof; opts as for
// store.
func (f *p12Fixture) profiled(t testing.TB, prof Profile, opts *StoreOptions) *Store {
	t.Helper()
	s := f.store(t, opts)
	require.NoError(t, s.SetProfile(prof))
	return s
}

// withProfile sets the profile of s, a new PKCS#12 store, and returns s.
func withProfile(s *Store, prof Profile) *Store {
	if err := s.SetProfile(prof); err != nil {
		panic(err)
	}
	return s
}

// p12FixtureEntries is what the fixture's store reads back as.
var p12FixtureEntries = []p12Want{
	p12Key("tenantclient", "tenant-client", "Issuing CA A", "Root A"),
	p12Key("other", "other-client", "Root B"),
	p12Trusted("root a", "Root A"),
	p12Trusted("root b", "Root B"),
}

func TestPKCS12ProfilesRoundTrip(t *testing.T) {
	f := newP12Fixture(t)
	for _, prof := range []Profile{Modern, Modern2024, Legacy, Passwordless, PBMAC1, Modern.WithIterations(1), Legacy.WithIterations(4096)} {
		t.Run(prof.presetName(), func(t *testing.T) {
			s := f.profiled(t, prof, nil)
			got, ok := s.Profile()
			require.True(t, ok)
			assert.Equal(t, prof, got)
			data, err := s.Marshal([]byte("changeit"))
			require.NoError(t, err)

			back, err := Parse(data, []byte("changeit"), &StoreOptions{Now: p12Clock})
			require.NoError(t, err)
			assertSameEntries(t, s, back)
			read, _ := back.Profile()
			assert.True(t, sameParams(prof, read), "wrote %v, read back %v", prof, read)
			assert.Equal(t, p12FixtureEntries, p12Entries(t, back))
			assert.Empty(t, back.keptBags())

			f, err := p12.Decode(data, []byte("changeit"))
			require.NoError(t, err)
			assert.Equal(t, prof.mac.Kind, f.MAC.Kind)
			for _, b := range f.Bags {
				if b.Type == p12.ShroudedKeyBag {
					alg, err := b.KeyAlg()
					require.NoError(t, err)
					assert.Equal(t, prof.keys, alg.EncParams)
				}
			}
		})
	}
}

// TestPKCS12Attributes: every key entry's key bag and leaf certificate
// bag carry friendlyName = alias and one shared localKeyId (Java's "Time
// <millis>"); chain certificates carry none; trusted certificates carry
// friendlyName and Java's trust attribute (anyExtendedKeyUsage).
func TestPKCS12Attributes(t *testing.T) {
	f := newP12Fixture(t)
	s := f.store(t, nil)
	data, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	file, err := p12.Decode(data, []byte("changeit"))
	require.NoError(t, err)

	type bagView struct {
		typ   p12.BagType
		name  string
		id    string
		trust bool
		cn    string
	}
	var got []bagView
	for _, b := range file.Bags {
		v := bagView{typ: b.Type, name: b.FriendlyName(), id: string(b.LocalKeyID()), trust: b.JavaTrust}
		if b.Cert() != nil {
			c, err := x509.ParseCertificate(b.Cert())
			require.NoError(t, err)
			v.cn = c.Subject.CommonName
		}
		got = append(got, v)
	}
	id := fmt.Sprintf("Time %d", testpki.Now.UnixMilli())
	id2 := fmt.Sprintf("Time %d", testpki.Now.Add(time.Second).UnixMilli())
	// As keytool writes them: keys first, then each key's chain (the
	// roots too), then the trusted certificates.
	assert.Equal(t, []bagView{
		{typ: p12.ShroudedKeyBag, name: "tenantclient", id: id},
		{typ: p12.ShroudedKeyBag, name: "other", id: id2},
		{typ: p12.CertBag, name: "tenantclient", id: id, cn: "tenant-client"},
		{typ: p12.CertBag, cn: "Issuing CA A"},
		{typ: p12.CertBag, cn: "Root A"},
		{typ: p12.CertBag, name: "other", id: id2, cn: "other-client"},
		{typ: p12.CertBag, cn: "Root B"},
		{typ: p12.CertBag, name: "root a", trust: true, cn: "Root A"},
		{typ: p12.CertBag, name: "root b", trust: true, cn: "Root B"},
	}, got)

	// The creation dates come back from the localKeyIds.
	back, err := Parse(data, []byte("changeit"), &StoreOptions{Now: func() time.Time { return testpki.Now.Add(time.Hour) }})
	require.NoError(t, err)
	e, err := back.Entry("tenantclient")
	require.NoError(t, err)
	assert.True(t, e.Created.Equal(testpki.Now), "created %v", e.Created)
	e, err = back.Entry("root a")
	require.NoError(t, err)
	assert.True(t, e.Created.Equal(testpki.Now.Add(time.Hour)), "a trusted entry is dated when read, as in Java: %v", e.Created)
}

func TestPKCS12Deterministic(t *testing.T) {
	f := newP12Fixture(t)
	for _, prof := range []Profile{Modern, Legacy, Passwordless, PBMAC1} {
		a, err := f.profiled(t, prof, nil).Marshal([]byte("changeit"))
		require.NoError(t, err)
		b, err := f.profiled(t, prof, nil).Marshal([]byte("changeit"))
		require.NoError(t, err)
		assert.Equal(t, a, b, prof.presetName())
		c, err := f.profiled(t, prof, &StoreOptions{Rand: p12Rand(2)}).Marshal([]byte("changeit"))
		require.NoError(t, err)
		if prof.mac.Kind != p12.NoMAC {
			assert.NotEqual(t, a, c, "%s: other salts should give another file", prof.presetName())
		}
	}
}

// TestPKCS12ReplaceKeepsOthers replaces one key entry: the alias keeps
// its case, the other entries' bags stay byte for byte, kept bags survive.
func TestPKCS12ReplaceKeepsOthers(t *testing.T) {
	f := newP12Fixture(t)
	data := p12WithExtras(t, f)
	s, err := Parse(data, []byte("changeit"), &StoreOptions{Now: p12Clock, Rand: p12Rand(3)})
	require.NoError(t, err)
	require.Equal(t, []string{"TenantClient", "other", "Root A", "root b"}, s.Aliases())
	require.Len(t, s.keptBags(), 4)

	newCA := testpki.NewRoot(t, "New Root").Intermediate(t, "New Issuing CA")
	leaf := newCA.Leaf(t, "tenant-client")
	prev, err := s.Replace("tenantclient", leaf.Key, leaf.Chain, nil)
	require.NoError(t, err)
	assert.Equal(t, "tenant-client", prev.Leaf().Subject.CommonName)
	out, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)

	back, err := Parse(out, []byte("changeit"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	assert.Equal(t, []string{"TenantClient", "other", "Root A", "root b"}, back.Aliases())
	e, err := back.Entry("TENANTCLIENT")
	require.NoError(t, err)
	assert.True(t, e.Chain[0].Equal(leaf.Cert))
	assert.True(t, e.Chain[1].Equal(newCA.Cert))
	assert.Equal(t, KeyFingerprint(leaf.Key.Public()), KeyFingerprint(e.Key.Public()))
	assert.Equal(t, s.keptBags(), back.keptBags())
	assert.Equal(t, p12OtherCNs(t, s), p12OtherCNs(t, back))

	before, after := p12BagsByName(t, data), p12BagsByName(t, out)
	for name, raw := range before {
		if name == "TenantClient" {
			assert.NotEqual(t, raw, after[name])
			continue
		}
		assert.Equal(t, raw, after[name], "bags of %q changed", name)
	}
}

// p12BagsByName maps friendlyNames (and bag types for unnamed bags other
// than certificates) to their bags' encodings.
func p12BagsByName(t testing.TB, data []byte) map[string][][]byte {
	t.Helper()
	f, err := p12.Decode(data, []byte("changeit"))
	require.NoError(t, err)
	out := map[string][][]byte{}
	for _, b := range f.Bags {
		name := b.FriendlyName()
		if !b.HasFriendlyName() {
			if b.Cert() != nil {
				continue // chain certificates of the replaced entry move
			}
			name = b.Type.String()
		}
		out[name] = append(out[name], b.Raw)
	}
	return out
}

// p12WithExtras writes the fixture's entries plus bags that are not
// entries: a certificate of no entry, a CRL bag, a secret bag and a bag
// of an unknown type with an unknown attribute.
func p12WithExtras(t testing.TB, f *p12Fixture) []byte {
	t.Helper()
	s := f.store(t, nil)
	base, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	file, err := p12.Decode(base, []byte("changeit"))
	require.NoError(t, err)
	var keys, certs [][]byte
	for _, b := range file.Bags {
		// The bag names follow the aliases as written: "TenantClient".
		raw := b.Raw
		if b.FriendlyName() == "tenantclient" {
			raw = p12.WithAttrs(b, p12.Attrs{FriendlyName: "TenantClient", HasFriendlyName: true, LocalKeyID: b.LocalKeyID()})
		}
		if b.FriendlyName() == "root a" {
			raw = p12.WithAttrs(b, p12.Attrs{FriendlyName: "Root A", HasFriendlyName: true, JavaTrust: true})
		}
		if b.Type == p12.ShroudedKeyBag {
			keys = append(keys, raw)
		} else {
			certs = append(certs, raw)
		}
	}
	orphan := testpki.NewRoot(t, "Orphan CA").Cert
	certs = append(certs, p12.NewCertBag(orphan.Raw, p12.Attrs{FriendlyName: "orphan", HasFriendlyName: true}))
	certs = append(certs, p12TestBag(t, "crl"), p12TestBag(t, "unknown"))
	keys = append(keys, p12TestBag(t, "secret"))
	enc := Modern.certs
	out, err := p12.Encode(&p12.EncodeSpec{
		Password: []byte("changeit"), Rand: p12Rand(4), MAC: Modern.mac,
		Contents: []p12.ContentSpec{{Bags: keys}, {Bags: certs, Enc: &enc}},
	})
	require.NoError(t, err)
	return out
}

// p12TestBag builds a bag the package does not interpret: a CRL bag, a
// secret bag or a bag of type 1.3.6.1.4.1.55555.1 with an attribute of
// type 1.3.6.1.4.1.55555.2.
func p12TestBag(t testing.TB, kind string) []byte {
	t.Helper()
	der := func(tag byte, parts ...[]byte) []byte {
		c := bytes.Join(parts, nil)
		require.Less(t, len(c), 128)
		return append([]byte{tag, byte(len(c))}, c...)
	}
	oid := func(b ...byte) []byte { return der(0x06, b) }
	var typ, value []byte
	switch kind {
	case "crl":
		typ = oid(0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x04)
		value = der(0x30, oid(0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x17, 0x01), der(0xA0, der(0x04, []byte("not really a CRL"))))
	case "secret":
		typ = oid(0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x05)
		value = der(0x30, oid(0x2A, 0x03, 0x04), der(0xA0, der(0x04, []byte("secret value"))))
	default:
		typ = oid(0x2B, 0x06, 0x01, 0x04, 0x01, 0x83, 0xB2, 0x03, 0x01)
		value = der(0x0C, []byte("opaque"))
	}
	attr := der(0x30, oid(0x2B, 0x06, 0x01, 0x04, 0x01, 0x83, 0xB2, 0x03, 0x02), der(0x31, der(0x0C, []byte(kind))))
	return der(0x30, typ, der(0xA0, value), der(0x31, attr))
}

func TestPKCS12KeptBags(t *testing.T) {
	f := newP12Fixture(t)
	data := p12WithExtras(t, f)
	s, err := Parse(data, []byte("changeit"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	assert.Equal(t, []keptBag{{Type: "secretBag"}, {Type: "certBag", Name: "orphan"}, {Type: "crlBag"}, {Type: "1.3.6.1.4.1.55555.1"}}, s.keptBags())
	assert.Equal(t, []string{"Orphan CA"}, p12OtherCNs(t, s))
	var listing strings.Builder
	require.NoError(t, s.WriteListing(&listing))
	assert.True(t, strings.HasSuffix(listing.String(), "\nAlso kept, not entries: secretBag, crlBag, 1.3.6.1.4.1.55555.1\n"),
		"the listing names the kept bags, the certificate of no entry aside:\n%s", listing.String())

	// Rebuilt (another password, another profile): every kept bag is
	// written back byte for byte.
	for _, prof := range []Profile{Legacy, Passwordless} {
		require.NoError(t, s.SetProfile(prof))
		out, err := s.Marshal([]byte("other"))
		require.NoError(t, err)
		file, err := p12.Decode(out, []byte("other"))
		require.NoError(t, err)
		var raws [][]byte
		for _, b := range file.Bags {
			raws = append(raws, b.Raw)
		}
		for _, kind := range []string{"crl", "secret", "unknown"} {
			assert.Contains(t, raws, p12TestBag(t, kind), "%s: the %s bag was not kept", prof.presetName(), kind)
		}
		back, err := Parse(out, []byte("other"), &StoreOptions{Now: p12Clock})
		require.NoError(t, err)
		assert.Equal(t, s.keptBags(), back.keptBags())
		assertSameEntries(t, s, back)
	}
}

// TestPKCS12PasswordChange: marshalling with a new password re-encrypts
// the untouched keys with it (the old password then opens nothing), but a
// key with its own key password keeps it.
func TestPKCS12PasswordChange(t *testing.T) {
	f := newP12Fixture(t)
	s := f.store(t, &StoreOptions{KeyPasswords: map[string][]byte{"other": []byte("own key password")}})
	data, err := s.Marshal([]byte("old"))
	require.NoError(t, err)

	read, err := Parse(data, []byte("old"), &StoreOptions{Now: p12Clock, KeyPasswords: map[string][]byte{"Other": []byte("own key password")}})
	require.NoError(t, err)
	out, err := read.Marshal([]byte("new"))
	require.NoError(t, err)

	back, err := Parse(out, []byte("new"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	_, err = back.Entry("tenantclient")
	require.NoError(t, err)
	_, err = back.Entry("other")
	require.ErrorIs(t, err, ErrIncorrectPassword, "the key of \"other\" should still need its own password")
	assert.Contains(t, err.Error(), `"other"`)

	back, err = Parse(out, []byte("new"), &StoreOptions{Now: p12Clock, KeyPasswords: map[string][]byte{"other": []byte("own key password")}})
	require.NoError(t, err)
	assertSameEntries(t, read, back)
}

// TestPKCS12SetProfileReencrypts: choosing another profile re-encrypts
// the keys read in the old one.
func TestPKCS12SetProfileReencrypts(t *testing.T) {
	f := newP12Fixture(t)
	data, err := f.store(t, nil).Marshal([]byte("changeit"))
	require.NoError(t, err)
	s, err := Parse(data, []byte("changeit"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	p, _ := s.Profile()
	require.Equal(t, "Modern2024", p.presetName())

	require.NoError(t, s.SetProfile(Legacy))
	out, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	file, err := p12.Decode(out, []byte("changeit"))
	require.NoError(t, err)
	for _, b := range file.Bags {
		if b.Type == p12.ShroudedKeyBag {
			alg, err := b.KeyAlg()
			require.NoError(t, err)
			assert.Equal(t, p12.PBEWithSHAAnd3KeyTripleDESCBC, alg.Cipher)
		}
	}
	back, err := Parse(out, []byte("changeit"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	assertSameEntries(t, s, back)

	// So it does on a store just parsed.
	s, err = Parse(data, []byte("changeit"), nil)
	require.NoError(t, err)
	require.NoError(t, s.SetProfile(Passwordless))
	p, _ = s.Profile()
	assert.Equal(t, "Passwordless", p.presetName())

	jks := New(JKS, nil)
	require.Error(t, jks.SetProfile(Legacy))
	_, ok := jks.Profile()
	assert.False(t, ok)
	assert.Error(t, s.SetProfile(Profile{}), "the zero profile is not valid")
	assert.Error(t, s.SetProfile(Modern.WithIterations(5_000_001)))
}

// TestPKCS12TwoPasswords: a key protected by a password other than the
// store's (keytool's -keypass) opens with WithKeyPassword; without it,
// the store and its other entries still read.
func TestPKCS12TwoPasswords(t *testing.T) {
	f := newP12Fixture(t)
	data, err := f.store(t, &StoreOptions{KeyPasswords: map[string][]byte{"other": []byte("key pass")}}).Marshal([]byte("s3cret-store"))
	require.NoError(t, err)

	s, err := Parse(data, []byte("s3cret-store"), nil)
	require.NoError(t, err)
	_, err = s.Entry("tenantclient")
	require.NoError(t, err)
	_, err = s.Entry("other")
	require.ErrorIs(t, err, ErrIncorrectPassword)
	assert.NotContains(t, err.Error(), "s3cret-store")
	certs, err := s.Certificates("other")
	require.NoError(t, err)
	assert.Equal(t, "other-client", certs[0].Subject.CommonName)

	s, err = Parse(data, []byte("s3cret-store"), &StoreOptions{KeyPasswords: map[string][]byte{"OTHER": []byte("key pass")}})
	require.NoError(t, err)
	e, err := s.Entry("other")
	require.NoError(t, err)
	assert.Equal(t, KeyFingerprint(f.alt.Key.Public()), KeyFingerprint(e.Key.Public()))
}

// TestPKCS12EmptyPassword: an empty password has two encodings (the
// BMPString "" with its NUL, which Java and OpenSSL write, and no bytes,
// which Windows writes); both read. The package writes the first.
func TestPKCS12EmptyPassword(t *testing.T) {
	f := newP12Fixture(t)
	for _, prof := range []Profile{Modern, Legacy, PBMAC1} {
		data, err := f.profiled(t, prof, nil).Marshal(nil)
		require.NoError(t, err)
		s, err := Parse(data, []byte{}, nil)
		require.NoError(t, err, prof.presetName())
		assert.Len(t, p12Entries(t, s), 4)
		_, err = Parse(data, []byte("x"), nil)
		require.ErrorIs(t, err, ErrIncorrectPassword)
	}
}

// TestPKCS12Rename keeps the key and chain under the new alias and the
// bag's other attributes.
func TestPKCS12Rename(t *testing.T) {
	f := newP12Fixture(t)
	data, err := f.store(t, nil).Marshal([]byte("changeit"))
	require.NoError(t, err)
	s, err := Parse(data, []byte("changeit"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	require.NoError(t, s.Rename("TenantClient", "Renamed"))
	require.NoError(t, s.Rename("root a", "Renamed Root"))
	out, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	back, err := Parse(out, []byte("changeit"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	assert.Equal(t, []p12Want{
		p12Key("renamed", "tenant-client", "Issuing CA A", "Root A"),
		p12Key("other", "other-client", "Root B"),
		p12Trusted("renamed root", "Root A"),
		p12Trusted("root b", "Root B"),
	}, p12Entries(t, back))
	assertSameEntries(t, s, back)
}

// TestPKCS12DuplicateAliases: with two key entries under one alias
// (ignoring case) the last wins, as in Java; the other is kept as bags.
func TestPKCS12DuplicateAliases(t *testing.T) {
	f := newP12Fixture(t)
	data, err := f.store(t, nil).Marshal([]byte("changeit"))
	require.NoError(t, err)
	file, err := p12.Decode(data, []byte("changeit"))
	require.NoError(t, err)
	var keys, certs [][]byte
	for _, b := range file.Bags {
		raw := b.Raw
		if b.FriendlyName() == "other" {
			raw = p12.WithAttrs(b, p12.Attrs{FriendlyName: "TenantClient", HasFriendlyName: true, LocalKeyID: b.LocalKeyID()})
		}
		if b.Type == p12.ShroudedKeyBag {
			keys = append(keys, raw)
		} else {
			certs = append(certs, raw)
		}
	}
	out, err := p12.Encode(&p12.EncodeSpec{Password: []byte("changeit"), Rand: p12Rand(5), MAC: Modern.mac,
		Contents: []p12.ContentSpec{{Bags: keys}, {Bags: certs}}})
	require.NoError(t, err)

	s, err := Parse(out, []byte("changeit"), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"TenantClient", "root a", "root b"}, s.Aliases())
	e, err := s.Entry("tenantclient")
	require.NoError(t, err)
	assert.Equal(t, "other-client", e.Leaf().Subject.CommonName)
	// The hidden entry's bags: its key, its leaf and the rest of its chain.
	assert.Equal(t, []keptBag{{Type: "pkcs8ShroudedKeyBag", Name: "tenantclient"}, {Type: "certBag", Name: "tenantclient"},
		{Type: "certBag"}, {Type: "certBag"}}, s.keptBags())

	require.NoError(t, s.SetProfile(Modern))
	again, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	back, err := Parse(again, []byte("changeit"), nil)
	require.NoError(t, err)
	assert.Equal(t, s.Aliases(), back.Aliases())
	assert.Equal(t, s.keptBags(), back.keptBags())
}

// TestPKCS12PairByPublicKey: a key without localKeyId is paired with the
// certificate holding its public key, and the chain is found by name.
func TestPKCS12PairByPublicKey(t *testing.T) {
	f := newP12Fixture(t)
	pw := []byte("changeit")
	keyBag := func(alias string, key crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		b, err := p12.NewShroudedKeyBag(der, p12.Attrs{FriendlyName: alias, HasFriendlyName: true}, Modern.keys, pw, p12Rand(6))
		require.NoError(t, err)
		return b
	}
	plain := func(c *x509.Certificate) []byte { return p12.NewCertBag(c.Raw, p12.Attrs{}) }
	out, err := p12.Encode(&p12.EncodeSpec{Password: pw, Rand: p12Rand(7), MAC: Modern.mac,
		Contents: []p12.ContentSpec{
			{Bags: [][]byte{keyBag("tenantclient", f.client.Key), keyBag("other", f.alt.Key)}},
			// Certificates out of order and without localKeyIds.
			{Bags: [][]byte{plain(f.caA.Cert), plain(f.alt.Cert), plain(f.client.Cert),
				p12.NewCertBag(f.rootA.Raw, p12.Attrs{FriendlyName: "root a", HasFriendlyName: true, JavaTrust: true})}},
		}})
	require.NoError(t, err)
	s, err := Parse(out, pw, nil)
	require.NoError(t, err)
	assert.Equal(t, []p12Want{
		p12Key("tenantclient", "tenant-client", "Issuing CA A", "Root A"),
		p12Key("other", "other-client"),
		p12Trusted("root a", "Root A"),
	}, p12Entries(t, s))
	assert.Empty(t, p12OtherCNs(t, s))

	// Without the key's password the key cannot be paired: the entry has
	// no chain, and the certificate is reported, not lost.
	s, err = Parse(out, pw, &StoreOptions{KeyPasswords: map[string][]byte{"other": []byte("wrong")}})
	require.NoError(t, err)
	certs, err := s.Certificates("other")
	require.NoError(t, err)
	assert.Empty(t, certs)
	assert.Equal(t, []string{"other-client"}, p12OtherCNs(t, s))
}

// TestPKCS12ChainPrefersFollowingCertificate: two intermediates with the
// same name (a re-keyed CA); each leaf gets the one written after it.
func TestPKCS12ChainPrefersFollowingCertificate(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	oldCA := root.Intermediate(t, "Issuing CA")
	newCA := oldCA.Reissue(t)
	oldLeaf, newLeaf := oldCA.Leaf(t, "old"), newCA.Leaf(t, "new")
	s := New(PKCS12, &StoreOptions{Now: p12Clock})
	require.NoError(t, s.Set(&Entry{Alias: "old", Created: testpki.Now, Key: oldLeaf.Key, Chain: oldLeaf.Chain}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "new", Created: testpki.Now.Add(time.Minute), Key: newLeaf.Key, Chain: newLeaf.Chain}, nil))
	require.False(t, oldCA.Cert.Equal(newCA.Cert))
	data, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	back, err := Parse(data, []byte("changeit"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	assertSameEntries(t, s, back)
}

func TestProfileNamesAndStrings(t *testing.T) {
	tests := []struct {
		p    Profile
		name string
		desc []string
	}{
		{Modern, "Modern2024", []string{"PBES2 AES-256-CBC, PBKDF2-HMAC-SHA-256, 10000 iterations", "HMAC-SHA-256 (PKCS #12 KDF, 10000 iterations)"}},
		{Legacy, "Legacy", []string{"pbeWithSHAAnd3-KeyTripleDES-CBC, 2048 iterations", "HMAC-SHA-1"}},
		{Passwordless, "Passwordless", []string{"certificates: not encrypted", "MAC: none"}},
		{PBMAC1, "PBMAC1", []string{"PBMAC1 HMAC-SHA-256 (PBKDF2-HMAC-SHA-256, 10000 iterations)"}},
		{Modern.WithIterations(20000), "Modern2024", []string{"20000 iterations; certificates", "(PKCS #12 KDF, 20000 iterations)"}},
		{Profile{}, "custom", []string{"custom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.p.presetName())
			for _, d := range tt.desc {
				assert.Contains(t, tt.p.describe(), d)
			}
			if tt.p == Modern.WithIterations(20000) || tt.p == (Profile{}) {
				assert.Equal(t, tt.p.describe(), tt.p.String(), "a profile that is no preset prints its parameters")
			} else {
				assert.Equal(t, tt.name, tt.p.String(), "a preset prints its name")
			}
		})
	}
	assert.Equal(t, Modern2024, Modern)
	assert.Equal(t, 10000, Modern.keys.Iterations, "WithIterations must not change the preset")
	assert.Equal(t, 0, Passwordless.WithIterations(5).certs.Iterations, "unencrypted certificates have no iterations")
}

func TestProfileReadableBy(t *testing.T) {
	aes192 := Modern
	aes192.keys.Cipher = p12.PBES2AES192CBC
	rc2 := Legacy
	rc2.certs.Cipher = p12.PBEWithSHAAnd40BitRC2CBC
	tests := []struct {
		p      Profile
		r      Reader
		ok     bool
		reason string
	}{
		{Modern, Java8, false, "PBES2 needs 8u301 or later"},
		{Modern, Java11, false, "PBES2 needs 11.0.12 or later"},
		{Modern, Java17, true, "PBES2 since JDK 12"},
		{Modern, Java21, true, "HMAC-SHA-256 MACs since JDK 12"},
		{Modern, OpenSSL111, true, "OpenSSL 1.1.1 reads every algorithm of Modern2024"},
		{Modern, OpenSSL30, true, "OpenSSL 3.0 reads every algorithm"},
		{Modern, OpenSSL34, true, "OpenSSL 3.4+"},
		{Legacy, Java8, true, "Java 8 reads every algorithm of Legacy"},
		{Legacy, Java21, true, ""},
		{Legacy, OpenSSL30, true, ""},
		{rc2, OpenSSL30, false, "RC2 is in OpenSSL 3's legacy provider"},
		{rc2, OpenSSL34, false, "-legacy"},
		{rc2, OpenSSL111, true, ""},
		{rc2, Java8, true, ""},
		{Passwordless, Java11, false, "PBES2 needs 11.0.12"}, // its keys are Modern's
		{Passwordless, Java21, true, "no MAC"},
		{Passwordless, OpenSSL30, true, "no MAC"},
		{PBMAC1, Java17, false, "no Java release reads PBMAC1"},
		{PBMAC1, Java21, false, "PBMAC1"},
		{PBMAC1, OpenSSL30, false, "needs OpenSSL 3.4 or later"},
		{PBMAC1, OpenSSL111, false, "needs OpenSSL 3.4"},
		{PBMAC1, OpenSSL34, true, "PBMAC1 since OpenSSL 3.4"},
		{aes192, Java17, false, "AES-128 and AES-256 only"},
		{aes192, OpenSSL30, true, ""},
		{Modern, Reader(99), false, "not a known reader"},
	}
	for _, tt := range tests {
		t.Run(tt.p.presetName()+"/"+tt.r.String(), func(t *testing.T) {
			ok, reason := tt.p.ReadableBy(tt.r)
			assert.Equal(t, tt.ok, ok, reason)
			assert.Contains(t, reason, tt.reason)
			assert.NotEmpty(t, reason)
		})
	}
}

func TestPKCS12RefusesBadProfile(t *testing.T) {
	f := newP12Fixture(t)
	for _, p := range []Profile{Profile{}, Modern.WithIterations(0), Legacy.WithIterations(5_000_001)} {
		err := f.store(t, nil).SetProfile(p)
		require.Error(t, err, p.String())
		assert.Contains(t, err.Error(), "keystore: PKCS#12 profile")
	}
}

// TestPKCS12KeyWithoutExport: a key that cannot be exported (an HSM
// signer, say) is refused with its alias.
func TestPKCS12KeyWithoutExport(t *testing.T) {
	leaf := testpki.NewRoot(t, "HSM Root").Leaf(t, "hsm")
	s := New(PKCS12, nil)
	require.NoError(t, s.Set(&Entry{Alias: "hsm", Key: opaqueSigner{leaf.Key}, Chain: []*x509.Certificate{leaf.Cert}}, nil))
	_, err := s.Marshal([]byte("changeit"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `alias "hsm": cannot export`)
}

// opaqueSigner hides the concrete key type, as a hardware key would.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

// TestPKCS12PasswordEncoding: PKCS#12 passwords must be UTF-8.
func TestPKCS12PasswordEncoding(t *testing.T) {
	f := newP12Fixture(t)
	_, err := f.profiled(t, Legacy, nil).Marshal([]byte{0xFF, 0xFE})
	require.ErrorIs(t, err, ErrPasswordEncoding)
	data, err := f.store(t, nil).Marshal([]byte("changeit"))
	require.NoError(t, err)
	_, err = Parse(data, []byte{0xFF}, nil)
	require.ErrorIs(t, err, ErrPasswordEncoding)
}

// p12Raw mirrors a PFX for tests that rewrite fields.
type p12Raw struct {
	Version  int
	AuthSafe asn1.RawValue
	MacData  p12RawMAC `asn1:"optional"`
}

type p12RawMAC struct {
	Mac        asn1.RawValue
	Salt       []byte
	Iterations *big.Int
}

var (
	p12OIDData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	p12OIDEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	p12OIDPBES2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	p12OIDPBKDF2        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	p12OIDPBMAC1        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	p12OIDHMACSHA256    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	p12OIDAES256CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	p12OID3DES          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	p12OIDShrouded      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
)

func p12Marshal(t testing.TB, v any, params ...string) []byte {
	t.Helper()
	var b []byte
	var err error
	if len(params) > 0 {
		b, err = asn1.MarshalWithParams(v, params[0])
	} else {
		b, err = asn1.Marshal(v)
	}
	require.NoError(t, err)
	return b
}

// p12Alg is an AlgorithmIdentifier.
type p12Alg struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// p12PBES2 returns a PBES2 AlgorithmIdentifier with iter iterations.
func p12PBES2(t testing.TB, iter *big.Int) p12Alg {
	t.Helper()
	kdf := p12Marshal(t, struct {
		Salt []byte
		Iter *big.Int
		PRF  p12Alg
	}{make([]byte, 16), iter, p12Alg{Algorithm: p12OIDHMACSHA256, Parameters: asn1.NullRawValue}})
	params := p12Marshal(t, struct{ KDF, Enc p12Alg }{
		p12Alg{Algorithm: p12OIDPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		p12Alg{Algorithm: p12OIDAES256CBC, Parameters: asn1.RawValue{FullBytes: p12Marshal(t, make([]byte, 16))}},
	})
	return p12Alg{Algorithm: p12OIDPBES2, Parameters: asn1.RawValue{FullBytes: params}}
}

// p12File assembles a PFX from ContentInfo encodings and an optional
// MacData.
func p12File(t testing.TB, contentInfos [][]byte, mac *p12RawMAC) []byte {
	t.Helper()
	authSafe := p12Marshal(t, []asn1.RawValue{})
	if len(contentInfos) > 0 {
		authSafe = p12Marshal(t, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(contentInfos, nil)})
	}
	ci := p12Marshal(t, struct {
		Type    asn1.ObjectIdentifier
		Content []byte `asn1:"explicit,tag:0"`
	}{p12OIDData, authSafe})
	raw := p12Raw{Version: 3, AuthSafe: asn1.RawValue{FullBytes: ci}}
	if mac != nil {
		raw.MacData = *mac
	} else {
		type noMAC struct {
			Version  int
			AuthSafe asn1.RawValue
		}
		return p12Marshal(t, noMAC{3, raw.AuthSafe})
	}
	return p12Marshal(t, raw)
}

// p12EncryptedData is a ContentInfo of type encryptedData.
func p12EncryptedData(t testing.TB, alg p12Alg, ciphertext []byte) []byte {
	t.Helper()
	eci := p12Marshal(t, struct {
		Type asn1.ObjectIdentifier
		Alg  p12Alg
		Data []byte `asn1:"tag:0"`
	}{p12OIDData, alg, ciphertext})
	ed := p12Marshal(t, struct {
		Version int
		ECI     asn1.RawValue
	}{0, asn1.RawValue{FullBytes: eci}})
	return p12Marshal(t, struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue
	}{p12OIDEncryptedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ed}})
}

// p12DataContent is a ContentInfo of type data holding bags.
func p12DataContent(t testing.TB, bags ...[]byte) []byte {
	t.Helper()
	sc := p12Marshal(t, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: bytes.Join(bags, nil)})
	return p12Marshal(t, struct {
		Type    asn1.ObjectIdentifier
		Content []byte `asn1:"explicit,tag:0"`
	}{p12OIDData, sc})
}

var p12MaxInt31 = big.NewInt(1<<31 - 1)

// TestPKCS12Limits: iteration counts above 5,000,000 and lengths beyond
// the input are refused before any work, with an error naming the field.
// (Each case would take minutes or gigabytes if it were not; the test run
// taking milliseconds shows it is not. BenchmarkPKCS12HostileIterations
// measures it.)
func TestPKCS12Limits(t *testing.T) {
	good, err := newP12Fixture(t).store(t, nil).Marshal([]byte("changeit"))
	require.NoError(t, err)
	var pfx p12Raw
	_, err = asn1.Unmarshal(good, &pfx)
	require.NoError(t, err)
	withMAC := func(mac asn1.RawValue, iter *big.Int) []byte {
		out := pfx
		out.MacData.Mac, out.MacData.Iterations = mac, iter
		return p12Marshal(t, out)
	}
	pbmac1 := func(iter, keyLen *big.Int) asn1.RawValue {
		kdf := p12Marshal(t, struct {
			Salt   []byte
			Iter   *big.Int
			KeyLen *big.Int
			PRF    p12Alg
		}{make([]byte, 16), iter, keyLen, p12Alg{Algorithm: p12OIDHMACSHA256, Parameters: asn1.NullRawValue}})
		params := p12Marshal(t, struct{ KDF, MAC p12Alg }{
			p12Alg{Algorithm: p12OIDPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
			p12Alg{Algorithm: p12OIDHMACSHA256, Parameters: asn1.NullRawValue},
		})
		return asn1.RawValue{FullBytes: p12Marshal(t, struct {
			Alg    p12Alg
			Digest []byte
		}{p12Alg{Algorithm: p12OIDPBMAC1, Parameters: asn1.RawValue{FullBytes: params}}, make([]byte, 32)})}
	}
	shroudedIter := func(iter *big.Int) []byte {
		alg := p12Alg{Algorithm: p12OID3DES, Parameters: asn1.RawValue{FullBytes: p12Marshal(t, struct {
			Salt []byte
			Iter *big.Int
		}{make([]byte, 8), iter})}}
		epki := p12Marshal(t, struct {
			Alg  p12Alg
			Data []byte
		}{alg, make([]byte, 32)})
		return p12Marshal(t, struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue
		}{p12OIDShrouded, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: epki}})
	}

	tests := []struct {
		name  string
		data  []byte
		err   error
		field string
	}{
		{"MAC iterations 2^31-1", withMAC(pfx.MacData.Mac, p12MaxInt31), ErrLimit, "macData.iterations is 2147483647"},
		{"MAC iterations 5,000,001", withMAC(pfx.MacData.Mac, big.NewInt(5_000_001)), ErrLimit, "macData.iterations is 5000001"},
		{"MAC iterations 2^64", withMAC(pfx.MacData.Mac, new(big.Int).Lsh(big.NewInt(1), 64)), ErrLimit, "macData.iterations"},
		{"MAC iterations 0", withMAC(pfx.MacData.Mac, big.NewInt(0)), ErrMalformed, "macData.iterations"},
		{"PBMAC1 iterations 2^31-1", withMAC(pbmac1(p12MaxInt31, big.NewInt(32)), big.NewInt(1)), ErrLimit, "macData PBMAC1 PBKDF2 iteration count is 2147483647"},
		{"PBMAC1 key length 2^31-1", withMAC(pbmac1(big.NewInt(1), p12MaxInt31), big.NewInt(1)), ErrLimit, "keyLength"},
		{"PBES2 iterations 2^31-1 without MAC", p12File(t, [][]byte{p12EncryptedData(t, p12PBES2(t, p12MaxInt31), make([]byte, 32))}, nil),
			ErrLimit, "authSafe[0].contentEncryptionAlgorithm PBKDF2 iteration count is 2147483647"},
		// A key's parameters are read when it is used, as Java reads them
		// (a file of 10,000 keys is read to decrypt one): the count is
		// refused then, before any derivation.
		{"key bag iterations 2^31-1", p12File(t, [][]byte{p12DataContent(t, shroudedIter(p12MaxInt31))}, nil),
			ErrLimit, `alias "1": input exceeds a safety limit: PKCS#12 encryptionAlgorithm iteration count is 2147483647`},
		{"length beyond the input", []byte{0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF, 0x02, 0x01, 0x03}, ErrMalformed, "exceeds the 3 bytes left"},
		{"authSafe length beyond the input", append([]byte{0x30, 0x14, 0x02, 0x01, 0x03, 0x30, 0x0F, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01,
			0xA0, 0x02, 0x04, 0x84}, 0x7F, 0xFF, 0xFF, 0xFF), ErrMalformed, "length"},
		{"nesting 10,000 deep", append(bytes.Repeat([]byte{0x30, 0x80}, 10000), make([]byte, 20000)...), ErrMalformed, "nesting deeper than 64 levels"},
		{"empty", nil, ErrMalformed, "empty file"},
		{"truncated", good[:len(good)/2], ErrMalformed, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			allocated := jksAllocated(3, func() {
				var s *Store
				if s, err = Parse(tt.data, []byte("changeit"), nil); err == nil {
					_, err = s.Entry("1")
				}
			})
			require.ErrorIs(t, err, tt.err)
			assert.Contains(t, err.Error(), tt.field)
			assert.NotContains(t, err.Error(), "changeit")
			assert.Less(t, allocated, uint64(64<<10)+uint64(4*len(tt.data)), "allocated %d bytes to reject a %d-byte file", allocated, len(tt.data))
		})
	}
}

// TestPKCS12EveryTruncationFails: no prefix of a valid file parses, and
// none panics.
func TestPKCS12EveryTruncationFails(t *testing.T) {
	data := p12Vector(t, "openssl/test-BER.p12")
	for n := 0; n < len(data); n += 7 {
		_, err := Parse(data[:n], []byte("12345"), nil)
		require.Error(t, err, "prefix of %d bytes", n)
	}
	data, err := newP12Fixture(t).profiled(t, Passwordless.WithIterations(1), nil).Marshal(nil)
	require.NoError(t, err)
	for n := 0; n < len(data); n++ {
		_, err := Parse(data[:n], nil, nil)
		require.Error(t, err, "prefix of %d bytes", n)
	}
}

// TestPKCS12AllocationLinear: decoding n bytes allocates O(n).
func TestPKCS12AllocationLinear(t *testing.T) {
	ca := testpki.NewRoot(t, "Many Root")
	s := withProfile(New(PKCS12, &StoreOptions{Now: p12Clock}), Modern.WithIterations(1))
	leaf := ca.Leaf(t, "leaf")
	for i := 0; i < 300; i++ {
		require.NoError(t, s.Set(&Entry{Alias: fmt.Sprintf("key %d", i), Created: testpki.Now.Add(time.Duration(i) * time.Second), Key: leaf.Key, Chain: leaf.Chain}, nil))
		require.NoError(t, s.Set(&Entry{Alias: fmt.Sprintf("trusted %d", i), Chain: []*x509.Certificate{ca.Cert}}, nil))
	}
	data, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	for _, name := range []string{"Modern", "BER"} {
		in := data
		pw := []byte("changeit")
		if name == "BER" {
			in, pw = p12Vector(t, "openssl/test-BER.p12"), []byte("12345")
		}
		var err error
		allocated := jksAllocated(3, func() { _, err = Parse(in, pw, nil) })
		require.NoError(t, err)
		// Beyond a constant for hash states and maps: a copy of the file
		// (kept to write it back untouched), the decrypted certificates,
		// and the bags' and entries' bookkeeping (measured: about 4n).
		assert.Less(t, allocated, uint64(6*len(in)+64<<10), "%s: allocated %d bytes for a %d-byte file", name, allocated, len(in))
	}
}

// TestPKCS12TotalIterationsBounded: many encrypted pieces, each within
// the per-count limit, are refused together before any work.
func TestPKCS12TotalIterationsBounded(t *testing.T) {
	piece := p12EncryptedData(t, p12PBES2(t, big.NewInt(4_000_000)), make([]byte, 32))
	data := p12File(t, [][]byte{piece, piece, piece}, nil)
	_, err := Parse(data, []byte("changeit"), nil)
	require.ErrorIs(t, err, ErrLimit)
	assert.Contains(t, err.Error(), "sum of the iteration counts")
	assert.Contains(t, err.Error(), "12000000")
}

// TestPKCS12ChainBuiltOnFirstUse: a key entry's chain is found when it is
// first asked for. An issuer certificate whose names can be read but that
// crypto/x509 refuses (version 8) is found then: Entry and Certificates
// give ErrUnsupportedCertificate naming it as certificate 2 of 2, the
// listing describes the entry from its leaf, saving the untouched store
// writes the file as read, Replace refuses (it reads the entry it
// replaces), and a store with one entry set anew keeps the refused
// certificate byte for byte in the untouched entry's chain.
func TestPKCS12ChainBuiltOnFirstUse(t *testing.T) {
	ca := testpki.NewRoot(t, "Lazy Root").Intermediate(t, "Lazy CA")
	a, b := ca.Leaf(t, "a"), ca.Leaf(t, "b")
	s := New(PKCS12, &StoreOptions{Now: p12Clock})
	require.NoError(t, s.Set(&Entry{Alias: "a", Key: a.Key, Chain: []*x509.Certificate{a.Cert, ca.Cert}}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "b", Key: b.Key, Chain: []*x509.Certificate{b.Cert, ca.Cert}}, nil))
	base, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)

	// The CA with version 8: its TBSCertificate starts with [0] { INTEGER 2 }.
	bad := bytes.Clone(ca.Cert.Raw)
	at := bytes.Index(bad, []byte{0xA0, 0x03, 0x02, 0x01, 0x02})
	require.Positive(t, at)
	bad[at+4] = 7
	_, err = x509.ParseCertificate(bad)
	require.Error(t, err)

	file, err := p12.Decode(base, []byte("changeit"))
	require.NoError(t, err)
	var keys, certs [][]byte
	for _, bg := range file.Bags {
		switch {
		case bg.Type == p12.ShroudedKeyBag:
			keys = append(keys, bg.Raw)
		case bytes.Equal(bg.Cert(), ca.Cert.Raw):
			certs = append(certs, p12.NewCertBag(bad, p12.Attrs{}))
		default:
			certs = append(certs, bg.Raw)
		}
	}
	enc := Modern.certs
	data, err := p12.Encode(&p12.EncodeSpec{
		Password: []byte("changeit"), Rand: p12Rand(5), MAC: Modern.mac,
		Contents: []p12.ContentSpec{{Bags: keys}, {Bags: certs, Enc: &enc}},
	})
	require.NoError(t, err)

	r, err := Parse(data, []byte("changeit"), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, r.Aliases())
	for _, rec := range r.recs {
		assert.True(t, rec.chainPending, "chain of %q built while parsing", rec.alias)
	}
	_, err = r.Entry("a")
	require.ErrorIs(t, err, ErrUnsupportedCertificate)
	var ce *entryCertificateError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 2, ce.index)
	assert.Equal(t, 2, ce.count)
	assert.Equal(t, CertFingerprint(&x509.Certificate{Raw: bad}), ce.sha256)
	assert.False(t, r.recs[0].chainPending)
	assert.True(t, r.recs[1].chainPending, "asking for a's chain built b's")
	_, err = r.Certificates("b")
	require.ErrorIs(t, err, ErrUnsupportedCertificate)

	sums := r.Summaries()
	require.Len(t, sums, 2)
	for _, sum := range sums {
		assert.Equal(t, 2, sum.ChainLength)
		assert.True(t, strings.HasPrefix(sum.Subject, "CN="+sum.Alias+","), sum.Subject)
		assert.NotEmpty(t, sum.Problem)
	}
	other, err := r.OtherCertificates()
	require.NoError(t, err)
	assert.Empty(t, other)

	// Untouched: the file as read, without building anything.
	r2, err := Parse(data, []byte("changeit"), nil)
	require.NoError(t, err)
	out, err := r2.Marshal([]byte("changeit"))
	require.NoError(t, err)
	assert.Equal(t, data, out)

	// Replace reads the entry it replaces, and cannot; Set replaces it.
	// b's chain still holds the refused CA as read.
	n := ca.Leaf(t, "a2")
	_, err = r2.Replace("a", n.Key, []*x509.Certificate{n.Cert, ca.Cert}, nil)
	require.ErrorIs(t, err, ErrUnsupportedCertificate)
	require.NoError(t, r2.Set(&Entry{Alias: "a", Key: n.Key, Chain: []*x509.Certificate{n.Cert, ca.Cert}}, nil))
	out, err = r2.Marshal([]byte("changeit"))
	require.NoError(t, err)
	back, err := p12.Decode(out, []byte("changeit"))
	require.NoError(t, err)
	var found int
	for _, bg := range back.Bags {
		if bytes.Equal(bg.Cert(), bad) {
			found++
		}
	}
	assert.Equal(t, 1, found)
	r3, err := Parse(out, []byte("changeit"), nil)
	require.NoError(t, err)
	_, err = r3.Certificates("b")
	require.ErrorIs(t, err, ErrUnsupportedCertificate)
	got, err := r3.Certificates("a")
	require.NoError(t, err)
	assert.Equal(t, "a2", got[0].Subject.CommonName)
}
