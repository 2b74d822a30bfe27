package pkcs12

import (
	"bytes"
	"crypto/hmac"
	"fmt"
	"io"
)

// MACKind is how a file's integrity is protected.
type MACKind int

// Integrity modes.
const (
	// NoMAC: no MacData (JDK 18+ password-less truststores).
	NoMAC MACKind = iota
	// HMAC keyed through the PKCS #12 KDF (RFC 7292 appendix B).
	HMAC
	// PBMAC1: HMAC keyed through PBKDF2 (RFC 9579).
	PBMAC1
)

// MACParams describes a MAC.
type MACParams struct {
	Kind       MACKind
	Hash       Hash // the HMAC hash
	KDFPRF     Hash // PBMAC1 only: the PRF of PBKDF2
	Iterations int
	SaltLen    int
	KeyLen     int // PBMAC1 only: the derived key length
}

// String describes the MAC, such as "HMAC-SHA-256 (PKCS #12 KDF, 10000
// iterations)".
func (m MACParams) String() string {
	switch m.Kind {
	case HMAC:
		return fmt.Sprintf("HMAC-%v (PKCS #12 KDF, %d iterations)", m.Hash, m.Iterations)
	case PBMAC1:
		return fmt.Sprintf("PBMAC1 HMAC-%v (PBKDF2-HMAC-%v, %d iterations)", m.Hash, m.KDFPRF, m.Iterations)
	}
	return "none"
}

// Check reports parameters the encoder cannot or must not write.
func (m MACParams) Check() error {
	if m.Kind == NoMAC {
		return nil
	}
	if m.Hash.newHash() == nil {
		return fmt.Errorf("pkcs12: no MAC hash %v", m.Hash)
	}
	if m.Iterations < 1 || m.Iterations > MaxIterations {
		return fmt.Errorf("pkcs12: %d MAC iterations; want 1 to %d", m.Iterations, MaxIterations)
	}
	if m.SaltLen < 1 || m.SaltLen > maxSaltLen {
		return fmt.Errorf("pkcs12: MAC salt of %d bytes; want 1 to %d", m.SaltLen, maxSaltLen)
	}
	if m.Kind == PBMAC1 {
		if m.KDFPRF.newHash() == nil {
			return fmt.Errorf("pkcs12: no PBKDF2 PRF %v", m.KDFPRF)
		}
		if m.KeyLen < minPBMAC1KeyLen || m.KeyLen > maxKeyLen {
			return fmt.Errorf("pkcs12: PBMAC1 key of %d bytes; want %d to %d", m.KeyLen, minPBMAC1KeyLen, maxKeyLen)
		}
	}
	return nil
}

// minPBMAC1KeyLen is the shortest PBMAC1 key accepted: RFC 9579 section 9
// asks for at least 20 octets. A shorter key lets an attacker find a salt
// under which a wrong password yields the same key (GHSA-mpwr-8vm7-h73f:
// with a 1-octet key, one try in 256 succeeds).
const minPBMAC1KeyLen = 20

// macData is a parsed MacData.
type macData struct {
	MACParams
	salt   []byte // the PKCS #12 KDF salt, or PBKDF2's for PBMAC1
	digest []byte
	off    int64
}

// parseMacData parses MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET
// STRING, iterations INTEGER DEFAULT 1 }, checking every limit before any
// key is derived.
func parseMacData(p *parser) (*macData, error) {
	start := p.offset(p.pos)
	mp, err := p.enter(tagSequence, "macData")
	if err != nil {
		return nil, err
	}
	dp, err := mp.enter(tagSequence, "macData.mac")
	if err != nil {
		return nil, err
	}
	ap, err := dp.enter(tagSequence, "macData.mac.digestAlgorithm")
	if err != nil {
		return nil, err
	}
	oid, err := ap.oid("macData.mac.digestAlgorithm")
	if err != nil {
		return nil, err
	}
	md := &macData{off: start}
	if bytes.Equal(oid, oidPBMAC1) {
		if err := parsePBMAC1Params(&ap, md); err != nil {
			return nil, prefixErr(err, "macData PBMAC1", " ")
		}
	} else {
		h, ok := lookupHash(&digestOIDs, oid)
		if !ok {
			return nil, &UnsupportedError{Field: "macData.mac.digestAlgorithm", What: "MAC digest " + OIDString(oid)}
		}
		md.Kind, md.Hash = HMAC, h
		if _, _, err := ap.optional(tagNull, "macData.mac.digestAlgorithm parameters"); err != nil {
			return nil, err
		}
	}
	if err := ap.finish(); err != nil {
		return nil, err
	}
	dg, err := dp.expect(tagOctetString, "macData.mac.digest")
	if err != nil {
		return nil, err
	}
	if err := dp.finish(); err != nil {
		return nil, err
	}
	salt, err := mp.expect(tagOctetString, "macData.macSalt")
	if err != nil {
		return nil, err
	}
	iter := 1
	if mp.peek() == tagInteger {
		if md.Kind == PBMAC1 {
			// RFC 9579: the field is ignored (writers put 1; some put 0).
			if _, err := mp.next("macData.iterations"); err != nil {
				return nil, err
			}
		} else if iter, err = iterations(&mp, "macData.iterations"); err != nil {
			return nil, err
		}
	}
	if err := mp.finish(); err != nil {
		return nil, err
	}
	md.digest = dg.content
	if md.Kind == HMAC {
		if len(salt.content) > maxSaltLen {
			return nil, &LimitError{Field: "macData.macSalt length", Value: int64(len(salt.content)), Max: maxSaltLen}
		}
		md.salt, md.Iterations, md.SaltLen = salt.content, iter, len(salt.content)
	}
	if len(md.digest) != md.Hash.Size() {
		return nil, mp.errAt(dg.off, "macData.mac.digest", "want %d bytes for HMAC-%v, found %d", md.Hash.Size(), md.Hash, len(md.digest))
	}
	return md, nil
}

// parsePBMAC1Params parses PBMAC1-params ::= SEQUENCE { keyDerivationFunc
// AlgorithmIdentifier {PBKDF2}, messageAuthScheme AlgorithmIdentifier }.
func parsePBMAC1Params(ap *parser, md *macData) error {
	pp, err := ap.enter(tagSequence, "parameters")
	if err != nil {
		return err
	}
	kdf, err := parsePBKDF2(&pp)
	if err != nil {
		return prefixErr(err, "PBKDF2", " ")
	}
	h, err := parseHashAlg(&pp, &hmacOIDs)
	if err != nil {
		return prefixErr(err, "messageAuthScheme", " ")
	}
	if err := pp.finish(); err != nil {
		return err
	}
	if kdf.keyLen == 0 {
		// RFC 9579 section 5 makes keyLength mandatory.
		return &FormatError{Offset: -1, Field: "PBKDF2 keyLength", Detail: "missing; RFC 9579 requires it"}
	}
	if kdf.keyLen < minPBMAC1KeyLen {
		return &FormatError{Offset: -1, Field: "PBKDF2 keyLength",
			Detail: fmt.Sprintf("want at least %d octets (RFC 9579 section 9), found %d", minPBMAC1KeyLen, kdf.keyLen)}
	}
	md.Kind, md.Hash, md.KDFPRF = PBMAC1, h, kdf.prf
	md.Iterations, md.SaltLen, md.KeyLen = kdf.iterations, len(kdf.salt), kdf.keyLen
	md.salt = kdf.salt
	return nil
}

// key derives the HMAC key for one password form, charging w first.
func (md *macData) key(pw []byte, w *Work) ([]byte, error) {
	if md.Kind == PBMAC1 {
		if err := w.charge(pbkdf2Cost(md.KDFPRF, len(pw), len(md.salt), md.Iterations, md.KeyLen), "key derivation for the MAC"); err != nil {
			return nil, err
		}
		return pbkdf2(md.KDFPRF, pw, md.salt, md.Iterations, md.KeyLen)
	}
	if err := w.charge(pkcs12KDFCost(md.Hash, len(pw), len(md.salt), md.Iterations, md.Hash.Size()), "key derivation for the MAC"); err != nil {
		return nil, err
	}
	return pkcs12KDF(md.Hash, pw, md.salt, md.Iterations, kdfMAC, md.Hash.Size()), nil
}

func (md *macData) sum(key, msg []byte) []byte {
	m := hmac.New(md.Hash.newHash(), key)
	m.Write(msg)
	return m.Sum(nil)
}

// verify checks the MAC over msg (the authSafe contents). The PKCS #12
// KDF takes the BMPString password and, for an empty password, also the
// absent one; PBMAC1 takes the password as UTF-8 (RFC 9579 section 4).
// Each derivation is charged to w first.
//
// While it hashes msg with the last password form, it tells prog (nil
// for none) how far it has got, and when it returns, that it is done:
// DecodeInPlace overwrites the ciphertext behind it.
func (md *macData) verify(password, msg []byte, w *Work, prog *progress) error {
	defer prog.finish()
	var forms [][]byte
	if md.Kind == PBMAC1 {
		forms = [][]byte{password}
	} else {
		var err error
		if forms, err = passwordForms(password); err != nil {
			return err
		}
	}
	for i, pw := range forms {
		key, err := md.key(pw, w)
		if err != nil {
			return err
		}
		var p *progress
		if i == len(forms)-1 {
			p = prog
		}
		if hmac.Equal(md.sumTelling(key, msg, p), md.digest) {
			return nil
		}
	}
	return ErrMAC
}

// sumTelling is sum, telling prog (nil for none) after each stretch of
// msg of inPlaceChunk bytes that it is hashed.
func (md *macData) sumTelling(key, msg []byte, prog *progress) []byte {
	if prog == nil {
		return md.sum(key, msg)
	}
	m := hmac.New(md.Hash.newHash(), key)
	for i := 0; i < len(msg); {
		end := min(i+inPlaceChunk, len(msg))
		m.Write(msg[i:end])
		prog.advance(end)
		i = end
	}
	return m.Sum(nil)
}

// macNode computes a MAC over msg and returns the MacData.
func macNode(m MACParams, password []byte, rand io.Reader, msg []byte) (*node, error) {
	mw, err := newMACWriter(m, password, rand)
	if err != nil {
		return nil, err
	}
	return mw.node(mw.md.sum(mw.key, msg)), nil
}

// macWriter is a MAC being written: its salt drawn and its key derived.
type macWriter struct {
	md  *macData
	key []byte
}

// newMACWriter draws the salt from rand and derives the key.
func newMACWriter(m MACParams, password []byte, rand io.Reader) (*macWriter, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	salt := make([]byte, m.SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, fmt.Errorf("pkcs12: reading a MAC salt: %w", err)
	}
	md := &macData{MACParams: m, salt: salt}
	pw := password
	if m.Kind == HMAC {
		var err error
		if pw, err = bmpPassword(password); err != nil {
			return nil, err
		}
	}
	key, err := md.key(pw, nil)
	if err != nil {
		return nil, err
	}
	return &macWriter{md: md, key: key}, nil
}

// size returns the length of the digest.
func (mw *macWriter) size() int { return mw.md.Hash.Size() }

// node returns the MacData carrying digest.
func (mw *macWriter) node(digest []byte) *node {
	m, salt := mw.md.MACParams, mw.md.salt
	if m.Kind == HMAC {
		return consNode(tagSequence,
			consNode(tagSequence, algNode(digestOIDs[m.Hash], nullNode), primNode(tagOctetString, digest)),
			primNode(tagOctetString, salt),
			intNode(int64(m.Iterations)))
	}
	kdf := consNode(tagSequence, primNode(tagOctetString, salt), intNode(int64(m.Iterations)), intNode(int64(m.KeyLen)))
	if m.KDFPRF != SHA1 {
		kdf.kids = append(kdf.kids, algNode(hmacOIDs[m.KDFPRF], nullNode))
	}
	params := consNode(tagSequence, algNode(oidPBKDF2, kdf), algNode(hmacOIDs[m.Hash], nullNode))
	// RFC 9579 section 5: macSalt and iterations are not used; its
	// examples carry "NOT USED" and 1, as OpenSSL writes them.
	return consNode(tagSequence,
		consNode(tagSequence, algNode(oidPBMAC1, params), primNode(tagOctetString, digest)),
		primNode(tagOctetString, []byte("NOT USED")),
		intNode(1))
}
