package keystore

// The JKS codec. Files are read and written by
// github.com/pavlo-v-chernykh/keystore-go/v4, behind a guard: keystore-go
// allocates whatever a length field claims, so every file is first walked
// by internal/jksguard, which checks each length and count against the
// input; only a file whose structure is sound reaches keystore-go.
//
// The loaded keystore-go KeyStore stays with the store, so an entry that
// was not changed is written back from what was read: its encrypted key
// and certificates byte for byte. keystore-go writes entries in alias
// order (byte-wise), so a store that is read and written keeps its entries
// but not necessarily their order in the file; Java does not depend on it
// (the JDK keeps JKS entries in a hash table).

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	kgo "github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/certroll/certroll/keystore/internal/jksguard"
)

// jksCertType is the certificate type the JDK writes in version 2 files.
const jksCertType = "X.509"

// jksKeyProtectorOID is the JDK's proprietary key protection algorithm
// (sun.security.provider.KeyProtector), the only one JKS uses.
var jksKeyProtectorOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 42, 2, 17, 1, 1}

// jksMinProtectedKey is the shortest protected key: a 20-byte salt and a
// 20-byte SHA-1 check value around the encrypted PKCS #8 bytes.
const jksMinProtectedKey = 40

// jksCodec reads and writes JKS files through keystore-go.
type jksCodec struct {
	// ks holds the entries as read (their keys still encrypted) and, after
	// an encode, as written; it is keyed by the alias bytes as they are in
	// the file (Java modified UTF-8).
	ks kgo.KeyStore
	// rnd feeds keystore-go's salt generation; it is pointed at the
	// store's random source before each encode.
	rnd *jksRand
	// keys are the aliases present in ks, so that entries the store no
	// longer has can be deleted from it.
	keys []string
	// size is the length of the last file read or written, a hint for the
	// next encode's buffer.
	size int
}

// jksNative is what a record read from a JKS file keeps: where its entry
// lives in the codec's keystore-go KeyStore.
type jksNative struct {
	codec *jksCodec
	key   string // alias bytes as in the file
	// offset is where the entry's encrypted key starts in the file, and
	// bad says why it cannot be decrypted whatever the password (checked
	// when the file is read, because keystore-go does not give the
	// encrypted bytes back and panics on some of them).
	offset int
	bad    error
}

// jksRand lets the reader given to keystore-go change after the KeyStore
// is built.
type jksRand struct{ r io.Reader }

func (r *jksRand) Read(p []byte) (int, error) { return r.r.Read(p) }

func newJKSCodec() codec { return newJKS() }

func newJKS() *jksCodec {
	rnd := &jksRand{}
	return &jksCodec{
		rnd: rnd,
		ks: kgo.New(
			// The Store applies Java's case rules itself; the file's
			// aliases are kept as written.
			kgo.WithCaseExactAliases(),
			// Sorted output makes Marshal deterministic.
			kgo.WithOrderedAliases(),
			kgo.WithCustomRandomNumberGenerator(rnd),
		),
	}
}

// jksPassword converts a UTF-8 password to what keystore-go hashes. Java
// hashes each UTF-16 character as two bytes, high byte first; keystore-go
// turns each byte b into the pair (0, b). Characters up to U+00FF are
// therefore passed as one byte each; a character above U+00FF cannot be
// expressed through keystore-go. what names the password in errors ("JKS
// password", "JKS key password of alias ...").
func jksPassword(password []byte, what string) ([]byte, error) {
	out := make([]byte, 0, len(password))
	pos := 0
	for i := 0; i < len(password); {
		r, n := utf8.DecodeRune(password[i:])
		pos++
		if r == utf8.RuneError && n <= 1 {
			return nil, fmt.Errorf("%w: %s is not valid UTF-8 (byte %d of %d)", ErrPasswordEncoding, what, i+1, len(password))
		}
		if r > 0xFF {
			return nil, fmt.Errorf("%w: %s character %d is above U+00FF; "+
				"keytool can make such stores, but the JKS codec can only hash characters U+0000 to U+00FF "+
				"(convert the store to PKCS#12 with keytool -importkeystore, or change the password)", ErrPasswordEncoding, what, pos)
		}
		out = append(out, byte(r))
		i += n
	}
	return out, nil
}

func jksZero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// jksMalformed turns a walk error into the package's errors.
func jksMalformed(err error) error {
	var ge *jksguard.Error
	if !errors.As(err, &ge) {
		return fmt.Errorf("%w: JKS: %w", ErrMalformed, err) // Walk returns only *jksguard.Error
	}
	if ge.SecretKey {
		return fmt.Errorf("%w: JKS entry %q at offset %d is a secret-key entry (tag 3); JKS holds only private-key and trusted-certificate entries "+
			"(secret keys need JCEKS or PKCS#12, and the JDK's JKS reader rejects this file too)", ErrUnsupportedFormat, ge.Alias, ge.Offset)
	}
	return &MalformedError{Format: JKS, Offset: ge.Offset, Field: ge.Field, Detail: ge.Detail}
}

// parseJKS decodes a JKS file. Records are in file order; when an alias
// occurs more than once (ignoring case) the last entry wins, as in Java.
func parseJKS(data, password []byte, o options) (*Store, error) {
	f, err := jksguard.Walk(data)
	if err != nil {
		return nil, jksMalformed(err)
	}
	certs := 0
	for i := range f.Entries {
		for _, cert := range f.Entries[i].Certs {
			// The JDK reads certificates with CertificateFactory.getInstance(type),
			// whose algorithm names ignore case; "X509" is an alias of "X.509".
			if cert.Type != nil && !strings.EqualFold(string(cert.Type), "X.509") && !strings.EqualFold(string(cert.Type), "X509") {
				return nil, &MalformedError{Format: JKS, Offset: int64(cert.TypeOffset), Field: "certificate type",
					Detail: fmt.Sprintf("alias %q: want \"X.509\", got %q", jksguard.DecodeModifiedUTF8(f.Entries[i].Alias), cert.Type)}
			}
		}
		certs += len(f.Entries[i].Certs)
	}
	pw, err := jksPassword(password, "JKS password")
	if err != nil {
		return nil, err
	}
	defer jksZero(pw)
	c := newJKS()
	// Everything after the digest is left out: the JDK ignores it too.
	if err := c.ks.Load(bytes.NewReader(data[:f.DigestOffset+jksguard.DigestSize]), pw); err != nil {
		// The walk has checked every field keystore-go reads, so what is
		// left to fail is the digest.
		if strings.Contains(err.Error(), "invalid digest") {
			return nil, fmt.Errorf("%w (the JKS integrity digest at offset %d does not match)", ErrIncorrectPassword, f.DigestOffset)
		}
		return nil, &MalformedError{Format: JKS, Offset: -1, Field: "file", Detail: fmt.Sprintf("keystore-go: %v", err)}
	}
	c.size = len(data)

	// Records, their natives and certificate lists are allocated in one
	// block each: a store of 10,000 entries is decoded with a handful of
	// allocations beyond keystore-go's own.
	//
	// Entries are visited last to first, because the last of several
	// entries with the same alias (ignoring case) is the one that counts,
	// and keystore-go's map holds only the last of several with the same
	// alias bytes.
	n := len(f.Entries)
	block := make([]record, n)
	natives := make([]jksNative, n)
	ders := make([][]byte, certs)
	recs := make([]*record, n)
	kept := n
	winner := make(map[string]string, n) // folded alias -> alias bytes of the entry that counts
	var losers map[string]bool           // other alias bytes in keystore-go's map
	for i := n - 1; i >= 0; i-- {
		e := &f.Entries[i]
		k := len(e.Certs)
		certs -= k
		alias := jksAlias(e.Alias)
		folded := fold(alias)
		if w, dup := winner[folded]; dup {
			// Shadowed by a later entry. Its alias bytes, if different,
			// are still in keystore-go's map, to be deleted when written.
			if raw := string(e.Alias); raw != w && !losers[raw] {
				if losers == nil {
					losers = make(map[string]bool)
				}
				losers[raw] = true
				c.keys = append(c.keys, raw)
			}
			continue
		}
		r, nat := &block[i], &natives[i]
		if err := c.record(e, alias, r, nat, ders[certs:certs+k:certs+k]); err != nil {
			return nil, err
		}
		winner[folded] = nat.key
		c.keys = append(c.keys, nat.key)
		kept--
		recs[kept] = r
	}
	return &Store{recs: recs[kept:], codec: c}, nil
}

// jksAlias decodes an alias from modified UTF-8.
func jksAlias(b []byte) string {
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			return jksguard.DecodeModifiedUTF8(b)
		}
	}
	return string(b) // plain ASCII reads the same as UTF-8
}

// record fills r and its native n for entry e (whose alias decodes to
// alias) from what keystore-go loaded; der has room for the entry's
// certificates.
func (c *jksCodec) record(e *jksguard.Entry, alias string, r *record, n *jksNative, der [][]byte) error {
	key := alias
	if len(alias) != len(e.Alias) || alias != string(e.Alias) {
		key = string(e.Alias)
	}
	*r = record{alias: alias, created: time.UnixMilli(e.Created), chainDER: der}
	*n = jksNative{codec: c, key: key}
	switch e.Tag {
	case jksguard.TagPrivateKey:
		r.kind = KeyEntry
		chain, err := c.ks.GetPrivateKeyEntryCertificateChain(key)
		if err != nil || len(chain) != len(der) {
			return fmt.Errorf("keystore: JKS alias %q: keystore-go read the entry differently (%v)", alias, err)
		}
		for i := range chain {
			der[i] = chain[i].Content
		}
		n.offset = e.KeyOffset
		n.bad = jksCheckProtected(alias, e.Key, e.KeyOffset)
	default:
		r.kind = TrustedEntry
		tce, err := c.ks.GetTrustedCertificateEntry(key)
		if err != nil || len(der) != 1 {
			return fmt.Errorf("keystore: JKS alias %q: keystore-go read the entry differently (%v)", alias, err)
		}
		der[0] = tce.Certificate.Content
	}
	r.native = n
	return nil
}

// unseal decrypts the key of a record read from a JKS file.
func (c *jksCodec) unseal(r *record, password []byte) (crypto.Signer, error) {
	n, ok := r.native.(*jksNative)
	if !ok || n.codec != c {
		return nil, fmt.Errorf("keystore: JKS alias %q: the entry was not read by this store", r.alias)
	}
	pw, err := jksPassword(password, fmt.Sprintf("JKS key password of alias %q", r.alias))
	if err != nil {
		return nil, err
	}
	defer jksZero(pw)
	if n.bad != nil {
		return nil, n.bad
	}
	pke, err := c.ks.GetPrivateKeyEntry(n.key, pw)
	if err != nil {
		if strings.Contains(err.Error(), "invalid digest") {
			return nil, fmt.Errorf("%w: cannot recover the key of alias %q with the key password given for it (WithKeyPassword) or the store password",
				ErrIncorrectPassword, r.alias)
		}
		return nil, &MalformedError{Format: JKS, Offset: int64(n.offset), Field: "key",
			Detail: fmt.Sprintf("alias %q: keystore-go: %v", r.alias, err)}
	}
	defer jksZero(pke.PrivateKey)
	return jksParseKey(r.alias, pke.PrivateKey)
}

// jksCheckProtected checks that blob is a DER EncryptedPrivateKeyInfo
// protected by the JDK's key protector, with at least the salt and check
// value (keystore-go panics on a shorter one). It reads the DER by hand
// because it runs for every key entry of every file read, and
// encoding/asn1 would cost more than the rest of the entry's decoding.
func jksCheckProtected(alias string, blob []byte, offset int) error {
	bad := func(format string, args ...any) error {
		return &MalformedError{Format: JKS, Offset: int64(offset), Field: "key",
			Detail: fmt.Sprintf("alias %q: ", alias) + fmt.Sprintf(format, args...)}
	}
	outer, rest, ok := jksDER(blob, 0x30)
	if !ok || len(rest) > 0 {
		return bad("want a DER EncryptedPrivateKeyInfo, got %d bytes that are not one", len(blob))
	}
	algo, outer, ok := jksDER(outer, 0x30)
	if !ok {
		return bad("want an AlgorithmIdentifier in the EncryptedPrivateKeyInfo")
	}
	oid, _, ok := jksDER(algo, 0x06)
	if !ok {
		return bad("want a key protection algorithm OID")
	}
	if !bytes.Equal(oid, jksKeyProtectorOIDDER) {
		return bad("want key protection %v (the JDK's JKS key protector), got another algorithm (OID bytes %X)", jksKeyProtectorOID, oid)
	}
	enc, outer, ok := jksDER(outer, 0x04)
	if !ok || len(outer) > 0 {
		return bad("want the encrypted key as the last field of the EncryptedPrivateKeyInfo")
	}
	if len(enc) < jksMinProtectedKey {
		return bad("want a protected key of at least %d bytes (salt and check value), got %d", jksMinProtectedKey, len(enc))
	}
	return nil
}

// jksKeyProtectorOIDDER is the content of jksKeyProtectorOID's DER encoding.
var jksKeyProtectorOIDDER = []byte{0x2B, 0x06, 0x01, 0x04, 0x01, 0x2A, 0x02, 0x11, 0x01, 0x01}

// jksDER reads one DER element with the given tag from the front of b and
// returns its contents and what follows it. Lengths must be minimal, as
// encoding/asn1 (which keystore-go uses) requires.
func jksDER(b []byte, tag byte) (content, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, hdr := int(b[1]), 2
	if n >= 0x80 {
		size := n & 0x7F
		if size == 0 || size > 4 || len(b) < 2+size || b[2] == 0 {
			return nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+size] {
			n = n<<8 | int(c)
		}
		if n < 0x80 {
			return nil, nil, false
		}
		hdr += size
	}
	if n > len(b)-hdr {
		return nil, nil, false
	}
	return b[hdr : hdr+n], b[hdr+n:], true
}

// Private key algorithms by PKCS #8 OID, to name what Go cannot use.
var jksKeyAlgorithms = map[string]string{
	"1.2.840.113549.1.1.1":  "RSA",
	"1.2.840.113549.1.1.10": "RSASSA-PSS",
	"1.2.840.10040.4.1":     "DSA",
	"1.2.840.10045.2.1":     "EC",
	"1.2.840.113549.1.3.1":  "DH",
	"1.3.101.110":           "X25519",
	"1.3.101.111":           "X448",
	"1.3.101.112":           "Ed25519",
	"1.3.101.113":           "Ed448",
}

// jksParseKey parses a decrypted PKCS #8 key into a crypto.Signer, naming
// the alias and the algorithm when Go cannot use it.
func jksParseKey(alias string, der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("keystore: JKS alias %q holds a %T, which cannot sign; the entry is kept unchanged when the store is saved: %w", alias, k, ErrUnsupportedKey)
	}
	var info struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if _, aerr := asn1.Unmarshal(der, &info); aerr != nil {
		return nil, fmt.Errorf("keystore: JKS alias %q: the decrypted key is not PKCS #8: %w", alias, err)
	}
	oid := info.Algo.Algorithm.String()
	name, ok := jksKeyAlgorithms[oid]
	if !ok {
		name = "unknown algorithm"
	}
	return nil, fmt.Errorf("keystore: JKS alias %q holds a %s private key (OID %s) that Go cannot use; "+
		"the entry still lists and is kept unchanged when the store is saved: %w: %w", alias, name, oid, ErrUnsupportedKey, err)
}

// encode writes the store's records. Records read by this codec and not
// changed are written from keystore-go's copy; the others are (re)set in
// it. The key of a new or changed key entry is encrypted with its key
// password (WithKeyPassword) if one was given, else with password. An
// untouched key stays encrypted as it was read, so writing a store with a
// new password leaves its keys under the old one, as keytool -storepasswd
// does for JKS.
func (c *jksCodec) encode(s *Store, password []byte) ([]byte, error) {
	pw, err := jksPassword(password, "JKS password")
	if err != nil {
		return nil, err
	}
	defer jksZero(pw)
	c.rnd.r = s.opts.rand()

	untouched := 0
	for _, r := range s.recs {
		if c.untouched(r) {
			untouched++
		}
	}
	// Delete what the store no longer has, unless every key is still
	// used as it was (the common case of a store saved as read).
	if untouched != len(c.keys) || untouched != len(s.recs) {
		keep := make(map[string]bool, untouched)
		for _, r := range s.recs {
			if c.untouched(r) {
				keep[r.native.(*jksNative).key] = true
			}
		}
		kept := c.keys[:0]
		for _, k := range c.keys {
			if keep[k] {
				kept = append(kept, k)
			} else {
				c.ks.DeleteEntry(k)
			}
		}
		c.keys = kept
		for _, r := range s.recs {
			if c.untouched(r) {
				continue
			}
			k, err := c.set(s, r, pw, keep)
			if err != nil {
				return nil, err
			}
			keep[k] = true
			c.keys = append(c.keys, k)
		}
	}
	var buf bytes.Buffer
	buf.Grow(c.size + 1024)
	if err := c.ks.Store(&buf, pw); err != nil {
		return nil, fmt.Errorf("keystore: write JKS: %w", err)
	}
	c.size = buf.Len()
	return buf.Bytes(), nil
}

// untouched reports whether r is written from what this codec read.
func (c *jksCodec) untouched(r *record) bool {
	if r.changed {
		return false
	}
	n, ok := r.native.(*jksNative)
	return ok && n.codec == c
}

// set puts a new or changed record into keystore-go's map and returns its
// key there.
func (c *jksCodec) set(s *Store, r *record, pw []byte, taken map[string]bool) (string, error) {
	if len(r.chainDER) == 0 {
		// A key entry read with an empty chain and then renamed; the JDK
		// refuses to store a private key without a chain too.
		return "", fmt.Errorf("keystore: JKS alias %q: a key entry needs a certificate chain, the entry has none", r.alias)
	}
	ab := jksguard.AppendModifiedUTF8(nil, r.alias)
	if len(ab) > 0xFFFF {
		return "", fmt.Errorf("keystore: JKS alias is %d bytes in Java's encoding; at most 65535 fit", len(ab))
	}
	key := string(ab)
	if taken[key] {
		// Aliases are unique ignoring case, so this cannot happen.
		return "", fmt.Errorf("keystore: JKS alias %q is held by two entries", r.alias)
	}
	if r.kind == TrustedEntry {
		err := c.ks.SetTrustedCertificateEntry(key, kgo.TrustedCertificateEntry{
			CreationTime: r.created,
			Certificate:  kgo.Certificate{Type: jksCertType, Content: r.chainDER[0]},
		})
		if err != nil {
			return "", fmt.Errorf("keystore: JKS alias %q: %w", r.alias, err)
		}
		return key, nil
	}
	signer, err := s.key(r)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return "", fmt.Errorf("keystore: JKS alias %q: encode key: %w", r.alias, err)
	}
	defer jksZero(der)
	chain := make([]kgo.Certificate, len(r.chainDER))
	for i, d := range r.chainDER {
		chain[i] = kgo.Certificate{Type: jksCertType, Content: d}
	}
	keyPw := pw
	if p, ok := s.opts.keyPasswords[fold(r.alias)]; ok {
		if keyPw, err = jksPassword(p, fmt.Sprintf("JKS key password of alias %q", r.alias)); err != nil {
			return "", err
		}
		defer jksZero(keyPw)
	}
	err = c.ks.SetPrivateKeyEntry(key, kgo.PrivateKeyEntry{CreationTime: r.created, PrivateKey: der, CertificateChain: chain}, keyPw)
	if err != nil {
		return "", fmt.Errorf("keystore: JKS alias %q: %w", r.alias, err)
	}
	return key, nil
}
