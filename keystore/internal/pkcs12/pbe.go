package pkcs12

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"fmt"
	"io"
)

// Cipher is a password-based encryption scheme for keys and SafeContents.
type Cipher int

// Encryption schemes. The PBE* ones are PKCS #12's own (RFC 7292 appendix
// C, SHA-1 and the PKCS #12 KDF); the PBES2* ones are PKCS #5 v2 (RFC
// 8018) with PBKDF2.
const (
	NoCipher                      Cipher = iota // not encrypted
	PBEWithSHAAnd3KeyTripleDESCBC               // 1.2.840.113549.1.12.1.3
	PBEWithSHAAnd2KeyTripleDESCBC               // 1.2.840.113549.1.12.1.4
	PBEWithSHAAnd128BitRC2CBC                   // 1.2.840.113549.1.12.1.5
	PBEWithSHAAnd40BitRC2CBC                    // 1.2.840.113549.1.12.1.6
	PBES2AES128CBC                              // PBES2 with aes128-CBC (2.16.840.1.101.3.4.1.2)
	PBES2AES192CBC                              // PBES2 with aes192-CBC (2.16.840.1.101.3.4.1.22)
	PBES2AES256CBC                              // PBES2 with aes256-CBC (2.16.840.1.101.3.4.1.42)
	PBES2DESEDE3CBC                             // PBES2 with des-ede3-cbc (1.2.840.113549.3.7)
)

var cipherNames = map[Cipher]string{
	NoCipher:                      "none",
	PBEWithSHAAnd3KeyTripleDESCBC: "pbeWithSHAAnd3-KeyTripleDES-CBC",
	PBEWithSHAAnd2KeyTripleDESCBC: "pbeWithSHAAnd2-KeyTripleDES-CBC",
	PBEWithSHAAnd128BitRC2CBC:     "pbeWithSHAAnd128BitRC2-CBC",
	PBEWithSHAAnd40BitRC2CBC:      "pbeWithSHAAnd40BitRC2-CBC",
	PBES2AES128CBC:                "PBES2 AES-128-CBC",
	PBES2AES192CBC:                "PBES2 AES-192-CBC",
	PBES2AES256CBC:                "PBES2 AES-256-CBC",
	PBES2DESEDE3CBC:               "PBES2 DES-EDE3-CBC",
}

// String returns the scheme's name.
func (c Cipher) String() string {
	if n, ok := cipherNames[c]; ok {
		return n
	}
	return fmt.Sprintf("Cipher(%d)", int(c))
}

// IsPBES2 reports whether c is a PBES2 scheme.
func (c Cipher) IsPBES2() bool { return c >= PBES2AES128CBC && c <= PBES2DESEDE3CBC }

// keyLen returns the key size of the block cipher of c.
func (c Cipher) keyLen() int {
	switch c {
	case PBEWithSHAAnd3KeyTripleDESCBC, PBES2DESEDE3CBC, PBES2AES192CBC:
		return 24
	case PBEWithSHAAnd2KeyTripleDESCBC, PBEWithSHAAnd128BitRC2CBC, PBES2AES128CBC:
		return 16
	case PBEWithSHAAnd40BitRC2CBC:
		return 5
	case PBES2AES256CBC:
		return 32
	}
	return 0
}

// blockSize returns the block size of the block cipher of c.
func (c Cipher) blockSize() int {
	switch c {
	case PBES2AES128CBC, PBES2AES192CBC, PBES2AES256CBC:
		return 16
	}
	return 8
}

func (c Cipher) block(key []byte) (cipher.Block, error) {
	switch c {
	case PBEWithSHAAnd3KeyTripleDESCBC, PBES2DESEDE3CBC:
		return des.NewTripleDESCipher(key)
	case PBEWithSHAAnd2KeyTripleDESCBC:
		k := make([]byte, 24)
		copy(k, key)
		copy(k[16:], key[:8])
		return des.NewTripleDESCipher(k)
	case PBEWithSHAAnd128BitRC2CBC:
		return newRC2(key, 128)
	case PBEWithSHAAnd40BitRC2CBC:
		return newRC2(key, 40)
	case PBES2AES128CBC, PBES2AES192CBC, PBES2AES256CBC:
		return aes.NewCipher(key)
	}
	return nil, fmt.Errorf("pkcs12: no block cipher for %v", c)
}

var pbeOIDs = [...][]byte{
	PBEWithSHAAnd3KeyTripleDESCBC: oidPBEWithSHAAnd3KeyTripleDESCBC,
	PBEWithSHAAnd2KeyTripleDESCBC: oidPBEWithSHAAnd2KeyTripleDESCBC,
	PBEWithSHAAnd128BitRC2CBC:     oidPBEWithSHAAnd128BitRC2CBC,
	PBEWithSHAAnd40BitRC2CBC:      oidPBEWithSHAAnd40BitRC2CBC,
}

var pbes2CipherOIDs = [...][]byte{
	PBES2AES128CBC:  oidAES128CBC,
	PBES2AES192CBC:  oidAES192CBC,
	PBES2AES256CBC:  oidAES256CBC,
	PBES2DESEDE3CBC: oidDESEDE3CBC,
}

// EncParams says how to encrypt: the scheme, the PBKDF2 PRF (PBES2 only),
// the iteration count and the salt length.
type EncParams struct {
	Cipher     Cipher
	PRF        Hash // PBES2 only
	Iterations int
	SaltLen    int
}

// String describes the parameters, such as
// "PBES2 AES-256-CBC, PBKDF2-HMAC-SHA-256, 10000 iterations".
func (p EncParams) String() string {
	if p.Cipher == NoCipher {
		return "none"
	}
	if p.Cipher.IsPBES2() {
		return fmt.Sprintf("%v, PBKDF2-HMAC-%v, %d iterations", p.Cipher, p.PRF, p.Iterations)
	}
	return fmt.Sprintf("%v, %d iterations", p.Cipher, p.Iterations)
}

// Alg is a parsed encryption AlgorithmIdentifier.
type Alg struct {
	EncParams
	Salt []byte
	IV   []byte // PBES2 only
}

// Limits on parameters read from a file. Iteration counts above the JDK's
// limit are refused before any work, so that a file cannot make the
// reader compute for minutes; the other bounds keep key derivation and
// MAC lengths sane.
const (
	MaxIterations = 5_000_000
	maxSaltLen    = 1024
	maxKeyLen     = 512
	// MaxTotalIterations bounds the iterations of everything Decode
	// derives (the MAC key and the keys of every encrypted SafeContents),
	// so that many pieces at the per-count limit cannot add up to
	// minutes. Real files need one or two derivations.
	MaxTotalIterations = 2 * MaxIterations
)

// parseEncAlg parses an AlgorithmIdentifier for PKCS #12 PBE or PBES2.
// Unknown schemes give an *UnsupportedError. Errors name fields relative
// to the AlgorithmIdentifier; callers put its path in front.
func parseEncAlg(p *parser) (*Alg, error) {
	ap, err := p.enter(tagSequence, "")
	if err != nil {
		return nil, err
	}
	oid, err := ap.oid("algorithm")
	if err != nil {
		return nil, err
	}
	for c := PBEWithSHAAnd3KeyTripleDESCBC; c <= PBEWithSHAAnd40BitRC2CBC; c++ {
		if bytes.Equal(pbeOIDs[c], oid) {
			return parsePBEParams(&ap, c)
		}
	}
	if bytes.Equal(oid, oidPBES2) {
		return parsePBES2Params(&ap)
	}
	if bytes.Equal(oid, oidPBEWithSHAAnd128BitRC4) || bytes.Equal(oid, oidPBEWithSHAAnd40BitRC4) {
		return nil, &UnsupportedError{What: "RC4 encryption (" + OIDString(oid) + ")"}
	}
	return nil, &UnsupportedError{What: "encryption algorithm " + OIDString(oid)}
}

// parsePBEParams parses pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING,
// iterations INTEGER }.
func parsePBEParams(ap *parser, c Cipher) (*Alg, error) {
	pp, err := ap.enter(tagSequence, "parameters")
	if err != nil {
		return nil, err
	}
	salt, err := pp.expect(tagOctetString, "salt")
	if err != nil {
		return nil, err
	}
	if len(salt.content) > maxSaltLen {
		return nil, &LimitError{Field: "salt length", Value: int64(len(salt.content)), Max: maxSaltLen}
	}
	iter, err := iterations(&pp, "iteration count")
	if err != nil {
		return nil, err
	}
	if err := pp.finish(); err != nil {
		return nil, err
	}
	return &Alg{EncParams: EncParams{Cipher: c, Iterations: iter, SaltLen: len(salt.content)}, Salt: salt.content}, nil
}

// iterations reads an iteration count and refuses it unless it is in
// 1..MaxIterations.
func iterations(p *parser, field string) (int, error) {
	start := p.pos
	v, err := p.integer(field, MaxIterations)
	if err != nil {
		return 0, err
	}
	if v > MaxIterations {
		return 0, &LimitError{Field: field, Value: v, Max: MaxIterations}
	}
	if v < 1 {
		return 0, p.errAt(start, field, "want at least 1, found %d", v)
	}
	return int(v), nil
}

// parsePBES2Params parses PBES2-params ::= SEQUENCE { keyDerivationFunc
// AlgorithmIdentifier {PBKDF2}, encryptionScheme AlgorithmIdentifier }.
func parsePBES2Params(ap *parser) (*Alg, error) {
	pp, err := ap.enter(tagSequence, "PBES2 parameters")
	if err != nil {
		return nil, err
	}
	kdf, err := parsePBKDF2(&pp)
	if err != nil {
		return nil, prefixErr(err, "PBKDF2", " ")
	}
	sp, err := pp.enter(tagSequence, "encryption scheme")
	if err != nil {
		return nil, err
	}
	oid, err := sp.oid("encryption scheme")
	if err != nil {
		return nil, err
	}
	var c Cipher
	for k := PBES2AES128CBC; k <= PBES2DESEDE3CBC; k++ {
		if bytes.Equal(pbes2CipherOIDs[k], oid) {
			c = k
		}
	}
	if c == NoCipher {
		return nil, &UnsupportedError{What: "PBES2 encryption scheme " + OIDString(oid)}
	}
	iv, err := sp.expect(tagOctetString, "IV")
	if err != nil {
		return nil, err
	}
	if len(iv.content) != c.blockSize() {
		return nil, sp.errAt(iv.off, "IV", "want %d bytes for %v, found %d", c.blockSize(), c, len(iv.content))
	}
	if err := sp.finish(); err != nil {
		return nil, err
	}
	if err := pp.finish(); err != nil {
		return nil, err
	}
	if kdf.keyLen != 0 && kdf.keyLen != c.keyLen() {
		return nil, &FormatError{Offset: -1, Field: "PBKDF2 keyLength", Detail: fmt.Sprintf("want %d for %v, found %d", c.keyLen(), c, kdf.keyLen)}
	}
	return &Alg{EncParams: EncParams{Cipher: c, PRF: kdf.prf, Iterations: kdf.iterations, SaltLen: len(kdf.salt)}, Salt: kdf.salt, IV: iv.content}, nil
}

type pbkdf2Params struct {
	salt       []byte
	iterations int
	keyLen     int // 0 when absent
	prf        Hash
}

// parsePBKDF2 parses AlgorithmIdentifier {PBKDF2} with PBKDF2-params ::=
// SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER
// OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }.
func parsePBKDF2(p *parser) (pbkdf2Params, error) {
	ap, err := p.enter(tagSequence, "")
	if err != nil {
		return pbkdf2Params{}, err
	}
	oid, err := ap.oid("algorithm")
	if err != nil {
		return pbkdf2Params{}, err
	}
	if !bytes.Equal(oid, oidPBKDF2) {
		return pbkdf2Params{}, &UnsupportedError{What: "key derivation function " + OIDString(oid)}
	}
	pp, err := ap.enter(tagSequence, "parameters")
	if err != nil {
		return pbkdf2Params{}, err
	}
	if err := ap.finish(); err != nil {
		return pbkdf2Params{}, err
	}
	if pp.peek() != tagOctetString {
		return pbkdf2Params{}, &UnsupportedError{Field: "salt", What: "a PBKDF2 salt from another source"}
	}
	salt, err := pp.expect(tagOctetString, "salt")
	if err != nil {
		return pbkdf2Params{}, err
	}
	if len(salt.content) > maxSaltLen {
		return pbkdf2Params{}, &LimitError{Field: "salt length", Value: int64(len(salt.content)), Max: maxSaltLen}
	}
	iter, err := iterations(&pp, "iteration count")
	if err != nil {
		return pbkdf2Params{}, err
	}
	out := pbkdf2Params{salt: salt.content, iterations: iter, prf: SHA1}
	if pp.peek() == tagInteger {
		start := pp.pos
		kl, err := pp.integer("keyLength", maxKeyLen)
		if err != nil {
			return pbkdf2Params{}, err
		}
		if kl > maxKeyLen {
			return pbkdf2Params{}, &LimitError{Field: "keyLength", Value: kl, Max: maxKeyLen}
		}
		if kl < 1 {
			return pbkdf2Params{}, pp.errAt(start, "keyLength", "want at least 1, found %d", kl)
		}
		out.keyLen = int(kl)
	}
	if !pp.empty() {
		h, err := parseHashAlg(&pp, &hmacOIDs)
		if err != nil {
			return pbkdf2Params{}, prefixErr(err, "PRF", " ")
		}
		out.prf = h
	}
	if err := pp.finish(); err != nil {
		return pbkdf2Params{}, err
	}
	return out, nil
}

// parseHashAlg parses an AlgorithmIdentifier naming a hash in m, with
// absent or NULL parameters.
func parseHashAlg(p *parser, m *hashOIDs) (Hash, error) {
	ap, err := p.enter(tagSequence, "")
	if err != nil {
		return 0, err
	}
	oid, err := ap.oid("")
	if err != nil {
		return 0, err
	}
	h, ok := lookupHash(m, oid)
	if !ok {
		return 0, &UnsupportedError{What: "algorithm " + OIDString(oid)}
	}
	if _, _, err := ap.optional(tagNull, "parameters"); err != nil {
		return 0, err
	}
	if err := ap.finish(); err != nil {
		return 0, err
	}
	return h, nil
}

// deriveKeyIV returns the cipher key and IV of a for one password form.
// For PKCS #12 PBE the form is the BMPString password; for PBES2 it is the
// password as given (UTF-8), which Java and OpenSSL both use. The work is
// charged to w first.
func (a *Alg) deriveKeyIV(pw []byte, w *Work) (key, iv []byte, err error) {
	if err := w.charge(a.formCost(len(pw)), "key derivation for "+a.Cipher.String()); err != nil {
		return nil, nil, err
	}
	if a.Cipher.IsPBES2() {
		key, err := pbkdf2(a.PRF, pw, a.Salt, a.Iterations, a.Cipher.keyLen())
		return key, a.IV, err
	}
	key = pkcs12KDF(SHA1, pw, a.Salt, a.Iterations, kdfKey, a.Cipher.keyLen())
	iv = pkcs12KDF(SHA1, pw, a.Salt, a.Iterations, kdfIV, 8)
	return key, iv, nil
}

// Decrypt decrypts ciphertext with password. It tries each form of the
// password (see passwordForms) and accepts the first whose result has
// valid padding and, if check is not nil, passes check. Its key
// derivations are not budgeted beyond the per-count limits.
func (a *Alg) Decrypt(password, ciphertext []byte, check func([]byte) bool) ([]byte, error) {
	return a.decrypt(password, ciphertext, check, nil)
}

// decrypt is Decrypt charging each key derivation to w before it runs.
func (a *Alg) decrypt(password, ciphertext []byte, check func([]byte) bool, w *Work) ([]byte, error) {
	bs := a.Cipher.blockSize()
	if len(ciphertext) == 0 || len(ciphertext)%bs != 0 {
		return nil, fmt.Errorf("%w: ciphertext of %d bytes is not a positive multiple of the %d-byte block", ErrDecrypt, len(ciphertext), bs)
	}
	forms := [][]byte{password}
	if !a.Cipher.IsPBES2() {
		var err error
		if forms, err = passwordForms(password); err != nil {
			return nil, err
		}
	}
	for _, pw := range forms {
		key, iv, err := a.deriveKeyIV(pw, w)
		if err != nil {
			return nil, err
		}
		b, err := a.Cipher.block(key)
		if err != nil {
			return nil, err
		}
		out := make([]byte, len(ciphertext))
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, ciphertext)
		if n, ok := unpad(out, bs); ok {
			if check == nil || check(out[:n]) {
				return out[:n], nil
			}
		}
	}
	return nil, ErrDecrypt
}

// unpad checks PKCS #7 padding and returns the length without it.
func unpad(b []byte, bs int) (int, bool) {
	n := int(b[len(b)-1])
	if n == 0 || n > bs {
		return 0, false
	}
	good := 1
	for i := len(b) - n; i < len(b); i++ {
		good &= subtle.ConstantTimeByteEq(b[i], byte(n))
	}
	return len(b) - n, good == 1
}

// Encrypt encrypts plaintext with password under params, drawing the salt
// and IV from rand, and returns the AlgorithmIdentifier and ciphertext.
func Encrypt(params EncParams, password []byte, rand io.Reader, plaintext []byte) (alg []byte, ciphertext []byte, err error) {
	alg, b, iv, err := newSealer(params, password, rand)
	if err != nil {
		return nil, nil, err
	}
	bs := b.BlockSize()
	n := bs - len(plaintext)%bs
	out := make([]byte, len(plaintext)+n)
	copy(out, plaintext)
	for i := len(plaintext); i < len(out); i++ {
		out[i] = byte(n)
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, out)
	return alg, out, nil
}

// newSealer draws a salt (and for PBES2 an IV) from rand, derives the key
// and returns the AlgorithmIdentifier, the block cipher and the IV.
func newSealer(params EncParams, password []byte, rand io.Reader) (alg []byte, b cipher.Block, iv []byte, err error) {
	if err := params.Check(); err != nil {
		return nil, nil, nil, err
	}
	salt := make([]byte, params.SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return nil, nil, nil, fmt.Errorf("pkcs12: reading a salt: %w", err)
	}
	a := &Alg{EncParams: params, Salt: salt}
	var pw []byte
	if params.Cipher.IsPBES2() {
		a.IV = make([]byte, params.Cipher.blockSize())
		if _, err := io.ReadFull(rand, a.IV); err != nil {
			return nil, nil, nil, fmt.Errorf("pkcs12: reading an IV: %w", err)
		}
		pw = password
	} else if pw, err = bmpPassword(password); err != nil {
		return nil, nil, nil, err
	}
	key, iv, err := a.deriveKeyIV(pw, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	if b, err = params.Cipher.block(key); err != nil {
		return nil, nil, nil, err
	}
	return a.node().encode(), b, iv, nil
}

// Check reports parameters the encoder cannot or must not write.
func (p EncParams) Check() error {
	if p.Cipher == NoCipher || p.Cipher.keyLen() == 0 {
		return fmt.Errorf("pkcs12: no encryption scheme %v", p.Cipher)
	}
	if p.Cipher.IsPBES2() && p.PRF.newHash() == nil {
		return fmt.Errorf("pkcs12: no PBKDF2 PRF %v", p.PRF)
	}
	if p.Iterations < 1 || p.Iterations > MaxIterations {
		return fmt.Errorf("pkcs12: %d iterations; want 1 to %d", p.Iterations, MaxIterations)
	}
	if p.SaltLen < 1 || p.SaltLen > maxSaltLen {
		return fmt.Errorf("pkcs12: salt of %d bytes; want 1 to %d", p.SaltLen, maxSaltLen)
	}
	return nil
}

// node returns the AlgorithmIdentifier for a.
func (a *Alg) node() *node {
	if !a.Cipher.IsPBES2() {
		return algNode(pbeOIDs[a.Cipher], consNode(tagSequence, primNode(tagOctetString, a.Salt), intNode(int64(a.Iterations))))
	}
	kdf := consNode(tagSequence, primNode(tagOctetString, a.Salt), intNode(int64(a.Iterations)))
	if a.PRF != SHA1 {
		// DEFAULT hmacWithSHA1 is omitted in DER.
		kdf.kids = append(kdf.kids, algNode(hmacOIDs[a.PRF], nullNode))
	}
	return algNode(oidPBES2, consNode(tagSequence,
		algNode(oidPBKDF2, kdf),
		algNode(pbes2CipherOIDs[a.Cipher], primNode(tagOctetString, a.IV))))
}
