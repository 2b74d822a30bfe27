// Package hostile generates the hostile corpus: inputs crafted to make the
// project's decoders and chain building spend time or memory out of
// proportion to their size. Every input is built in code, deterministically
// (fixed seeds, fixed clock), so the corpus needs no checked-in blobs and
// each input says how it is made.
//
// The guarantee the inputs are tested against (see the hostile tests of
// packages keystore, truststore and chain) is: an input of n ≤ 10 MB costs
// at most [CPUBudget] of CPU and at most [MemBudget](n) of memory, whatever
// it contains; what would exceed that is refused with a limit error before
// the work is done.
package hostile

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"
	"unicode/utf16"
)

// CPUBudget is the CPU time an input of at most 10 MB may cost, on a
// 2-core machine of the 2020s.
const CPUBudget = 2 * time.Second

// MemBudget returns the memory an input of n bytes may cost: 16 MB plus
// ten times its size.
func MemBudget(n int) int64 { return 16<<20 + 10*int64(n) }

// Target is the entry point an input is for.
type Target int

// Targets.
const (
	// PKCS12 inputs are read with keystore.Parse (and truststore.Parse).
	PKCS12 Target = iota
	// JKS inputs are read with keystore.Parse (and truststore.Parse).
	JKS
	// Bundle inputs are PEM text read with truststore.Parse.
	Bundle
	// Certificates inputs are read with keystore.ParseCertificates.
	Certificates
	// Chain inputs are a chain and a pool for chain.Complete.
	Chain
)

// An Input is one member of the corpus.
type Input struct {
	Name     string
	Target   Target
	Data     []byte // the bytes, for every target but Chain
	Password []byte // for PKCS12 and JKS

	// Chain and Pool are the arguments of chain.Complete (Chain target).
	Chain, Pool []*x509.Certificate

	// Limit is set when the input must be refused with a limit error
	// (keystore.ErrLimit); otherwise it must read (or fail) within the
	// budgets.
	Limit bool
}

// Size is the input's size in bytes: its data, or the DER of its
// certificates.
func (in Input) Size() int {
	n := len(in.Data)
	for _, c := range in.Chain {
		n += len(c.Raw)
	}
	for _, c := range in.Pool {
		n += len(c.Raw)
	}
	return n
}

// member is an Input and how to build it.
type member struct {
	in    Input
	build func(*Input)
}

func data(f func() []byte) func(*Input) { return func(in *Input) { in.Data = f() } }

var members = []member{
	{Input{Name: "pkcs12-pbmac1-keylen512-5M", Target: PKCS12, Limit: true}, data(PBMAC1LongKey)},
	{Input{Name: "pkcs12-3des-pieces-1000-keys-empty-password", Target: PKCS12, Limit: true}, data(func() []byte { return ManyDerivations(1000) })},
	{Input{Name: "pkcs12-140000-tiny-encrypteddata", Target: PKCS12, Limit: true}, data(func() []byte { return ManyTinyPieces(140_000) })},
	{Input{Name: "pkcs12-1000-keys-no-localkeyid-no-mac", Target: PKCS12}, data(func() []byte { return UnpairedKeys(1000, 5_000_000) })},
	{Input{Name: "pkcs12-1000-keys-no-localkeyid-2048-iterations", Target: PKCS12}, data(func() []byte { return UnpairedKeys(1000, 2048) })},
	{Input{Name: "pkcs12-ber-one-byte-segments", Target: PKCS12}, data(func() []byte { return BERSegments(10 << 20) })},
	{Input{Name: "bundle-1000-copies", Target: Bundle}, data(func() []byte { return Copies(1000) })},
	{Input{Name: "bundle-29000-copies", Target: Bundle}, data(func() []byte { return Copies(29000) })},
	{Input{Name: "bundle-20000-distinct-one-alias", Target: Bundle}, data(func() []byte { return OneAlias(20000) })},
	{Input{Name: "bundle-broken-begin-lines", Target: Bundle}, data(func() []byte { return BrokenBegins(10 << 20) })},
	{Input{Name: "certificates-29000-copies", Target: Certificates}, data(func() []byte { return Copies(29000) })},
	{Input{Name: "certificates-pkcs7-40000-copies", Target: Certificates}, data(func() []byte { return PKCS7Copies(40000) })},
	{Input{Name: "certificates-der-40000-copies", Target: Certificates}, data(func() []byte { return DERCopies(40000) })},
	{Input{Name: "certificates-der-tiny-10MB", Target: Certificates}, data(func() []byte { return TinyCopies(10<<20/len(tinyCert()), false) })},
	{Input{Name: "bundle-tiny-10MB", Target: Bundle}, data(func() []byte { return TinyCopies(10<<20/len(pemOf(tinyCert())), true) })},
	{Input{Name: "certificates-broken-begin-lines", Target: Certificates}, data(func() []byte { return BrokenBegins(10 << 20) })},
	{Input{Name: "jks-320000-minimal-entries", Target: JKS, Password: []byte("changeit")}, data(func() []byte { return MinimalJKS(320_000) })},
	{Input{Name: "chain-3000-same-name-cas", Target: Chain}, func(in *Input) {
		in.Chain, in.Pool = []*x509.Certificate{SameNameLeaf()}, SameNameCAs()
	}},
	{Input{Name: "chain-akid-mismatch-1000x2000", Target: Chain}, func(in *Input) {
		leaf, pool := AKIDMismatch()
		in.Chain, in.Pool = []*x509.Certificate{leaf}, pool
	}},
}

var (
	corpusMu sync.Mutex
	built    = map[string]Input{}
)

// Corpus returns every input of the given targets (all of them when none
// is given), in a fixed order, each built once per process (all of them
// take about two seconds, mostly signing certificates). Callers must not
// modify them.
func Corpus(targets ...Target) []Input {
	corpusMu.Lock()
	defer corpusMu.Unlock()
	var out []Input
	for _, m := range members {
		if len(targets) > 0 && !slices.Contains(targets, m.in.Target) {
			continue
		}
		in, ok := built[m.in.Name]
		if !ok {
			in = m.in
			m.build(&in)
			built[in.Name] = in
		}
		out = append(out, in)
	}
	return out
}

// --- DER ---

func tlv(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var out []byte
	switch {
	case n < 0x80:
		out = []byte{tag, byte(n)}
	case n < 0x100:
		out = []byte{tag, 0x81, byte(n)}
	case n < 0x10000:
		out = []byte{tag, 0x82, byte(n >> 8), byte(n)}
	default:
		out = []byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func seq(parts ...[]byte) []byte { return tlv(0x30, parts...) }
func octets(b []byte) []byte     { return tlv(0x04, b) }
func explicit0(b []byte) []byte  { return tlv(0xa0, b) }

func integer(v int64) []byte {
	b := big.NewInt(v).Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return tlv(0x02, b)
}

// oid encodes a dotted object identifier.
func oid(arcs ...uint64) []byte {
	body := []byte{byte(arcs[0]*40 + arcs[1])}
	for _, a := range arcs[2:] {
		var tmp []byte
		tmp = append(tmp, byte(a&0x7f))
		for a >>= 7; a > 0; a >>= 7 {
			tmp = append(tmp, byte(a&0x7f|0x80))
		}
		for i := len(tmp) - 1; i >= 0; i-- {
			body = append(body, tmp[i])
		}
	}
	return tlv(0x06, body)
}

var (
	oidData          = oid(1, 2, 840, 113549, 1, 7, 1)
	oidEncryptedData = oid(1, 2, 840, 113549, 1, 7, 6)
	oidSHA1          = oid(1, 3, 14, 3, 2, 26)
	oidPBMAC1        = oid(1, 2, 840, 113549, 1, 5, 14)
	oidPBKDF2        = oid(1, 2, 840, 113549, 1, 5, 12)
	oidHMACSHA1      = oid(1, 2, 840, 113549, 2, 7)
	oidHMACSHA256    = oid(1, 2, 840, 113549, 2, 9)
	oidPBE3DES       = oid(1, 2, 840, 113549, 1, 12, 1, 3)
	oidShroudedKey   = oid(1, 2, 840, 113549, 1, 12, 10, 1, 2)
	oidCertBag       = oid(1, 2, 840, 113549, 1, 12, 10, 1, 3)
	oidX509Cert      = oid(1, 2, 840, 113549, 1, 9, 22, 1)
	null             = []byte{0x05, 0x00}
)

// pfx wraps an AuthenticatedSafe (a list of ContentInfo) and an optional
// MacData.
func pfx(contentInfos [][]byte, macData []byte) []byte {
	authSafe := seq(contentInfos...)
	p := [][]byte{integer(3), seq(oidData, explicit0(octets(authSafe)))}
	if macData != nil {
		p = append(p, macData)
	}
	return seq(p...)
}

func dataInfo(bags ...[]byte) []byte { return seq(oidData, explicit0(octets(seq(bags...)))) }

// pbe3DES is pbeWithSHAAnd3-KeyTripleDES-CBC with an 8-byte salt.
func pbe3DES(iterations int64) []byte {
	return seq(oidPBE3DES, seq(octets([]byte("saltsalt")), integer(iterations)))
}

func encryptedInfo(alg []byte, ciphertext []byte) []byte {
	return seq(oidEncryptedData, explicit0(seq(integer(0), seq(oidData, alg, tlv(0x80, ciphertext)))))
}

// PBMAC1LongKey is a PKCS#12 file of about 400 bytes whose PBMAC1 MAC
// asks PBKDF2-HMAC-SHA-1 for a 512-byte key at 5,000,000 iterations: 26
// output blocks, 260 million HMAC compressions (31.6 s before the work
// budget; every single count is within the JDK's limit).
func PBMAC1LongKey() []byte {
	kdf := seq(oidPBKDF2, seq(octets(bytes.Repeat([]byte{0x5a}, 16)), integer(5_000_000), integer(512), seq(oidHMACSHA1, null)))
	mac := seq(seq(seq(oidPBMAC1, seq(kdf, seq(oidHMACSHA256, null))), octets(make([]byte, 32))),
		octets([]byte("NOT USED")), integer(1))
	cert := certBag(leafCert(), false)
	return pfx([][]byte{dataInfo(cert)}, mac)
}

// ManyDerivations is a PKCS#12 file (about 145 KB for 1,000 keys) for the
// empty password whose iteration counts add up to just under 10,000,000,
// the most the sum may be: an HMAC-SHA-1 MAC of one iteration that
// verifies, then two 3DES encryptedData at 4,999,999 each (a key and an IV
// derivation, three SHA-1 blocks together, tried with both forms of the
// empty password, as the ciphertext is garbage), and keys shrouded with
// 3DES at 5,000,000 without localKeyId, which a reader pairs with
// certificates by decrypting them. Before the work budget, the first piece
// alone cost 30 million hash blocks (2.2 s); the budget counts 60 million
// for the two pieces and refuses the file before deriving anything.
func ManyDerivations(keys int) []byte { return ManyDerivationsAt(keys, 4_999_999) }

// ManyDerivationsAt is ManyDerivations with the pieces at the given count.
func ManyDerivationsAt(keys int, pieceIterations int64) []byte {
	var bags [][]byte
	for i := 0; i < keys; i++ {
		bags = append(bags, shroudedKey(5_000_000, i))
	}
	bags = append(bags, certBag(leafCert(), false))
	ct := make([]byte, 64)
	infos := [][]byte{
		encryptedInfo(pbe3DES(pieceIterations), ct),
		encryptedInfo(pbe3DES(pieceIterations), ct),
		dataInfo(bags...),
	}
	return pfx(infos, validMac(seq(infos...)))
}

// validMac is MacData with HMAC-SHA-1 keyed through the PKCS #12 KDF at
// one iteration for the empty password (its BMPString form, the NUL
// terminator): RFC 7292 appendix B.2 with one output block.
func validMac(authSafe []byte) []byte {
	salt := []byte("saltsalt")
	d := bytes.Repeat([]byte{3}, 64)      // diversifier 3: MAC key
	i := bytes.Repeat(salt, 64/len(salt)) // S, 64 bytes
	i = append(i, make([]byte, 64)...)    // P: "\x00\x00" repeated
	h := sha1.New()
	h.Write(d)
	h.Write(i)
	key := h.Sum(nil)
	m := hmac.New(sha1.New, key)
	m.Write(authSafe)
	return seq(seq(seq(oidSHA1, null), octets(m.Sum(nil))), octets(salt), integer(1))
}

// ManyTinyPieces is a PKCS#12 file without MAC of n encryptedData, each
// an empty SafeContents under 3DES at one iteration that decrypts with the
// empty password: cheap per derivation, but two derivations per piece,
// each with its fixed cost (140,000 pieces fit in 10 MB).
func ManyTinyPieces(n int) []byte {
	salt := []byte("saltsalt")
	key := pkcs12KDF1(salt, 1, 24)
	iv := pkcs12KDF1(salt, 2, 8)
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		panic(fmt.Sprintf("hostile: %v", err)) // a 24-byte key: a programmer error
	}
	ct := []byte{0x30, 0x00, 6, 6, 6, 6, 6, 6} // SEQUENCE {}, padded
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	info := encryptedInfo(pbe3DES(1), ct)
	return pfx([][]byte{bytes.Repeat(info, n)}, nil)
}

// pkcs12KDF1 is the PKCS #12 KDF (RFC 7292 appendix B.2) with SHA-1 and
// one iteration, for the empty password (its BMPString form, the NUL
// terminator): enough to encrypt the corpus's pieces.
func pkcs12KDF1(salt []byte, id byte, size int) []byte {
	d := bytes.Repeat([]byte{id}, 64)
	i := bytes.Repeat(salt, 64/len(salt)) // S
	i = append(i, make([]byte, 64)...)    // P: "\x00\x00" repeated
	var out []byte
	for len(out) < size {
		h := sha1.New()
		h.Write(d)
		h.Write(i)
		a := h.Sum(nil)
		out = append(out, a...)
		b := make([]byte, 64)
		for k := range b {
			b[k] = a[k%len(a)]
		}
		for j := 0; j < len(i); j += 64 {
			carry := uint16(1)
			for k := 63; k >= 0; k-- {
				sum := uint16(i[j+k]) + uint16(b[k]) + carry
				i[j+k], carry = byte(sum), sum>>8
			}
		}
	}
	return out[:size]
}

// UnpairedKeys is a PKCS#12 file without MAC holding n keys shrouded
// with 3DES at the given count, none with a localKeyId, and one
// certificate: a reader that pairs keys with certificates by public key
// decrypts keys until its budget is spent. The ciphertexts are garbage,
// so every form of the empty password is tried.
func UnpairedKeys(n int, iterations int64) []byte {
	var bags [][]byte
	for i := 0; i < n; i++ {
		bags = append(bags, shroudedKey(iterations, i))
	}
	bags = append(bags, certBag(leafCert(), false))
	return pfx([][]byte{dataInfo(bags...)}, nil)
}

// BERSegments is a PKCS#12 file in BER of about size bytes: indefinite
// lengths, and its AuthenticatedSafe (a SafeContents of as many
// certificates as fit in a third of size) cut into one-byte OCTET STRING
// segments, which a reader must join. It has no MAC and reads as a store
// of trusted-less certificates.
func BERSegments(size int) []byte {
	cert := certBag(smallCert(), false)
	bags := make([][]byte, 0, size/3/len(cert)+1)
	for n := 0; n+len(cert) < size/3-64; n += len(cert) {
		bags = append(bags, cert)
	}
	authSafe := seq(dataInfo(bags...))
	var b bytes.Buffer
	b.Write([]byte{0x30, 0x80})             // PFX
	b.Write(integer(3))                     // version
	b.Write([]byte{0x30, 0x80})             // ContentInfo
	b.Write(oidData)                        // data
	b.Write([]byte{0xa0, 0x80, 0x24, 0x80}) // [0] { OCTET STRING, constructed
	for _, c := range authSafe {
		b.Write([]byte{0x04, 0x01, c})
	}
	b.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	return b.Bytes()
}

func shroudedKey(iterations int64, i int) []byte {
	ct := make([]byte, 80)
	binary.BigEndian.PutUint32(ct, uint32(i))
	return seq(oidShroudedKey, explicit0(seq(pbe3DES(iterations), octets(ct))))
}

func certBag(der []byte, named bool) []byte {
	v := seq(oidX509Cert, explicit0(octets(der)))
	if !named {
		return seq(oidCertBag, explicit0(v))
	}
	name := utf16.Encode([]rune("cert"))
	bmp := make([]byte, 2*len(name))
	for i, c := range name {
		binary.BigEndian.PutUint16(bmp[2*i:], c)
	}
	attr := seq(oid(1, 2, 840, 113549, 1, 9, 20), tlv(0x31, tlv(0x1e, bmp)))
	return seq(oidCertBag, explicit0(v), tlv(0x31, attr))
}

// --- certificates ---

var clock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func key(i int) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	binary.BigEndian.PutUint64(seed, uint64(i)+1)
	return ed25519.NewKeyFromSeed(seed)
}

func mustCert(tmpl, parent *x509.Certificate, pub ed25519.PublicKey, priv ed25519.PrivateKey) []byte {
	der, err := x509.CreateCertificate(nil, tmpl, parent, pub, priv)
	if err != nil {
		panic(fmt.Sprintf("hostile: %v", err)) // the templates are fixed: a programmer error
	}
	return der
}

var (
	leafOnce sync.Once
	leafDER  []byte
)

// leafCert is one small self-signed Ed25519 certificate.
func leafCert() []byte {
	leafOnce.Do(func() {
		k := key(0)
		t := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Hostile Root"},
			NotBefore: clock, NotAfter: clock.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign}
		leafDER = mustCert(t, t, k.Public().(ed25519.PublicKey), k)
	})
	return leafDER
}

var (
	smallOnce sync.Once
	smallDER  []byte
)

// smallCert is a self-signed Ed25519 certificate without extensions: 331
// bytes of PEM, so that 29,000 copies make 9.6 MB.
func smallCert() []byte {
	smallOnce.Do(func() {
		k := key(4)
		t := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Copy"},
			NotBefore: clock, NotAfter: clock.AddDate(10, 0, 0)}
		smallDER = mustCert(t, t, k.Public().(ed25519.PublicKey), k)
	})
	return smallDER
}

var (
	tinyOnce sync.Once
	tinyDER  []byte
)

// tinyCert is about the smallest certificate crypto/x509 parses: an
// Ed25519 key, empty names, no extensions (150 bytes), so that a decoder's
// memory per certificate meets the least input.
func tinyCert() []byte {
	tinyOnce.Do(func() {
		k := key(5)
		t := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: clock, NotAfter: clock.AddDate(10, 0, 0)}
		tinyDER = mustCert(t, t, k.Public().(ed25519.PublicKey), k)
	})
	return tinyDER
}

// TinyCopies is n copies of the smallest certificate, end to end in DER
// (pem false) or as PEM blocks.
func TinyCopies(n int, asPEM bool) []byte {
	if asPEM {
		return bytes.Repeat(pemOf(tinyCert()), n)
	}
	return bytes.Repeat(tinyCert(), n)
}

// SmallKeyPair returns a fixed Ed25519 key and a self-signed certificate
// for it without extensions: the smallest key entry a keystore holds, for
// light fuzz seeds.
func SmallKeyPair() (ed25519.PrivateKey, *x509.Certificate) {
	return key(4), parse(smallCert())
}

func pemOf(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }

// Copies is a PEM bundle of n copies of one small certificate.
func Copies(n int) []byte {
	block := pemOf(smallCert())
	return bytes.Repeat(block, n)
}

// OneAlias is a PEM bundle of n distinct certificates, each under the
// comment "# alias: x".
func OneAlias(n int) []byte {
	var b bytes.Buffer
	for _, der := range distinctCerts(n) {
		b.WriteString("# alias: x\n")
		b.Write(pemOf(der))
	}
	return b.Bytes()
}

var (
	distinctMu  sync.Mutex
	distinctDER [][]byte
)

// distinctCerts returns n certificates that differ in serial number and
// subject, all signed by one Ed25519 key.
func distinctCerts(n int) [][]byte {
	distinctMu.Lock()
	defer distinctMu.Unlock()
	k := key(1)
	pub := k.Public().(ed25519.PublicKey)
	for i := len(distinctDER); i < n; i++ {
		t := &x509.Certificate{SerialNumber: big.NewInt(int64(i) + 1), Subject: pkix.Name{CommonName: fmt.Sprintf("Hostile %d", i)},
			NotBefore: clock, NotAfter: clock.AddDate(10, 0, 0)}
		distinctDER = append(distinctDER, mustCert(t, t, pub, k))
	}
	return distinctDER[:n]
}

// PKCS7Copies is a degenerate PKCS #7 SignedData (as a .p7b holds a
// chain) of n copies of one small certificate.
func PKCS7Copies(n int) []byte {
	certs := bytes.Repeat(smallCert(), n)
	sd := seq(integer(1), tlv(0x31), seq(oidData), tlv(0xa0, certs), tlv(0x31))
	return seq(oid(1, 2, 840, 113549, 1, 7, 2), explicit0(sd))
}

// DERCopies is n copies of one small certificate in DER, end to end.
func DERCopies(n int) []byte { return bytes.Repeat(smallCert(), n) }

// BrokenBegins is about size bytes of "-----BEGIN CERTIFICATE-----" lines
// without an END line: a PEM reader that searches the rest of the input
// for an END line at every BEGIN is quadratic.
func BrokenBegins(size int) []byte {
	line := []byte("-----BEGIN CERTIFICATE-----\n")
	return bytes.Repeat(line, size/len(line))
}

// SameNameCount is the number of certificates of [SameNameCAs].
const SameNameCount = 3000

var (
	sameOnce sync.Once
	sameCAs  []*x509.Certificate
	sameLeaf *x509.Certificate
)

// SameNameCAs returns SameNameCount CA certificates that all have the
// subject "CN=Same CA" and the issuer "CN=Upper CA" (none is
// self-signed), each with its own key: for a chain search, every one is a
// candidate issuer of [SameNameLeaf] and none leads to a root.
func SameNameCAs() []*x509.Certificate {
	sameOnce.Do(func() {
		upper := &x509.Certificate{Subject: pkix.Name{CommonName: "Upper CA"}}
		uk := key(2)
		for i := 0; i < SameNameCount; i++ {
			k := key(1000 + i)
			t := &x509.Certificate{SerialNumber: big.NewInt(int64(i) + 1), Subject: pkix.Name{CommonName: "Same CA"},
				NotBefore: clock, NotAfter: clock.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign}
			sameCAs = append(sameCAs, parse(mustCert(t, upper, k.Public().(ed25519.PublicKey), uk)))
		}
		parent := &x509.Certificate{Subject: pkix.Name{CommonName: "Same CA"}}
		t := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Hostile Leaf"},
			NotBefore: clock, NotAfter: clock.AddDate(1, 0, 0), DNSNames: []string{"leaf.example"}}
		sameLeaf = parse(mustCert(t, parent, key(3).Public().(ed25519.PublicKey), key(1000+SameNameCount-1)))
	})
	return sameCAs
}

var (
	akidOnce sync.Once
	akidLeaf *x509.Certificate
	akidPool []*x509.Certificate
)

// AKIDMismatch returns a leaf issued by "CN=Same CA" and a pool of 1,000
// CAs of that name, each issued by "CN=X CA" with the authority key id
// of a key no certificate holds, and 2,000 CAs named "CN=X CA" with other
// keys: every step from a "Same CA" candidate finds 2,000 certificates
// by name and none by key id, so a search that counts only the
// candidates it tries scans them all again at every step.
func AKIDMismatch() (*x509.Certificate, []*x509.Certificate) {
	akidOnce.Do(func() {
		x := &x509.Certificate{Subject: pkix.Name{CommonName: "X CA"}, SubjectKeyId: []byte("no such key")}
		xk := key(6)
		for i := 0; i < 1000; i++ {
			k := key(10_000 + i)
			t := &x509.Certificate{SerialNumber: big.NewInt(int64(i) + 1), Subject: pkix.Name{CommonName: "Same CA"},
				NotBefore: clock, NotAfter: clock.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign}
			akidPool = append(akidPool, parse(mustCert(t, x, k.Public().(ed25519.PublicKey), xk)))
		}
		upper := &x509.Certificate{Subject: pkix.Name{CommonName: "Upper CA"}}
		for i := 0; i < 2000; i++ {
			k := key(20_000 + i)
			t := &x509.Certificate{SerialNumber: big.NewInt(int64(i) + 1), Subject: pkix.Name{CommonName: "X CA"},
				NotBefore: clock, NotAfter: clock.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign}
			akidPool = append(akidPool, parse(mustCert(t, upper, k.Public().(ed25519.PublicKey), key(2))))
		}
		parent := &x509.Certificate{Subject: pkix.Name{CommonName: "Same CA"}}
		t := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Hostile Leaf"},
			NotBefore: clock, NotAfter: clock.AddDate(1, 0, 0)}
		akidLeaf = parse(mustCert(t, parent, key(3).Public().(ed25519.PublicKey), key(10_000)))
	})
	return akidLeaf, akidPool
}

// SameNameLeaf is a leaf naming "CN=Same CA" as its issuer, without an
// authority key id, signed by the last of [SameNameCAs].
func SameNameLeaf() *x509.Certificate {
	SameNameCAs()
	return sameLeaf
}

func parse(der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(fmt.Sprintf("hostile: %v", err)) // built above: a programmer error
	}
	return c
}

// MinimalJKS is a JKS file (password "changeit") of n trusted-certificate
// entries of 31 bytes each: a two-byte certificate, aliases "0", "1", ...
// (320,000 entries make 9.9 MB).
func MinimalJKS(n int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2})
	binary.Write(&b, binary.BigEndian, uint32(n))
	for i := 0; i < n; i++ {
		alias := base36(i, 4)
		binary.Write(&b, binary.BigEndian, uint32(2))
		binary.Write(&b, binary.BigEndian, uint16(len(alias)))
		b.WriteString(alias)
		binary.Write(&b, binary.BigEndian, uint64(1_700_000_000_000))
		binary.Write(&b, binary.BigEndian, uint16(5))
		b.WriteString("X.509")
		binary.Write(&b, binary.BigEndian, uint32(2))
		b.Write([]byte{0x30, 0x00})
	}
	b.Write(jksDigest("changeit", b.Bytes()))
	return b.Bytes()
}

// base36 writes i in n base-36 digits.
func base36(i, n int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for k := n - 1; k >= 0; k-- {
		b[k] = digits[i%36]
		i /= 36
	}
	return string(b)
}

// jksDigest is the JKS integrity digest of body for an ASCII password.
func jksDigest(password string, body []byte) []byte {
	h := sha1.New()
	for _, c := range password {
		h.Write([]byte{byte(c >> 8), byte(c)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(body)
	return h.Sum(nil)
}
