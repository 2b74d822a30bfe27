//lint:file-ignore SA1019 DSA keys still live in old JKS stores: they are fingerprinted and kept, never made.

package keystore

import (
	"crypto"
	"crypto/dsa" // deprecated, but DSA keys still live in old JKS stores
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Fingerprint is a SHA-256 digest that identifies a certificate (the
// digest of its DER encoding, as keytool -list and openssl x509
// -fingerprint -sha256 compute it) or a public key (the digest of its
// PKIX SubjectPublicKeyInfo DER encoding). Compute one with
// [CertFingerprint] or [KeyFingerprint], read one a person pasted with
// [ParseFingerprint], and compare two with ==.
//
// String prints it as keytool does ("AB:CD:..."), Hex as 64 lower-case
// hexadecimal digits, and it marshals to JSON and other text formats as
// Hex, reading back every form ParseFingerprint accepts.
//
// The zero Fingerprint stands for no fingerprint (a nil certificate, a
// key that cannot be encoded): it prints and marshals as "", and a
// struct field of this type tagged omitzero is left out of JSON.
type Fingerprint [sha256.Size]byte

// CertFingerprint returns the SHA-256 fingerprint of c's DER encoding, or
// the zero Fingerprint for a nil certificate.
func CertFingerprint(c *x509.Certificate) Fingerprint {
	if c == nil {
		return Fingerprint{}
	}
	return sha256.Sum256(c.Raw)
}

// KeyFingerprint returns the SHA-256 fingerprint of pub's PKIX
// SubjectPublicKeyInfo DER encoding, so that the same key gives the same
// fingerprint whether it comes from a certificate, a CSR or a private key.
// It can be recomputed with
//
//	openssl pkey -pubin -outform DER | openssl dgst -sha256
//
// pub may be an *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey,
// *ecdh.PublicKey or *dsa.PublicKey; for any other value, or a key that
// cannot be encoded, it returns the zero Fingerprint.
func KeyFingerprint(pub crypto.PublicKey) Fingerprint {
	der, ok := marshalSPKI(pub)
	if !ok {
		return Fingerprint{}
	}
	return sha256.Sum256(der)
}

// ParseFingerprint reads a SHA-256 fingerprint in any form people paste:
// 64 hexadecimal digits in either case, with or without colons between
// the pairs (keytool's "AB:CD:..."), after an optional "SHA256:",
// "SHA-256:" or "sha256 Fingerprint=" prefix (keytool's and OpenSSL's
// output lines, in any case), or "SHA256:" followed by unpadded base64
// (the OpenSSH style). Spaces around it are ignored. The empty string
// gives the zero Fingerprint and no error.
//
// A malformed fingerprint gives a [*FingerprintError], which matches
// [ErrInvalidFingerprint].
func ParseFingerprint(s string) (Fingerprint, error) {
	var fp Fingerprint
	reason := parseFingerprint(&fp, s)
	if reason != "" {
		return Fingerprint{}, &FingerprintError{input: s, Reason: reason}
	}
	return fp, nil
}

// fingerprintPrefixes are the labels keytool, OpenSSL and people put
// before a SHA-256 fingerprint, lower-cased.
var fingerprintPrefixes = []string{"sha256 fingerprint=", "sha-256 fingerprint=", "sha256:", "sha-256:"}

// parseFingerprint reads s into fp, or says why it cannot: what was
// expected and what was found.
func parseFingerprint(fp *Fingerprint, s string) string {
	const digits = 2 * sha256.Size
	t := strings.TrimSpace(s)
	if t == "" {
		*fp = Fingerprint{}
		return ""
	}
	prefixed := false
	for _, p := range fingerprintPrefixes {
		if len(t) >= len(p) && strings.EqualFold(t[:len(p)], p) {
			t, prefixed = strings.TrimSpace(t[len(p):]), true
			break
		}
	}
	if !prefixed {
		if i := strings.Index(strings.ToLower(t), " fingerprint="); i > 0 {
			return fmt.Sprintf("expected a SHA-256 fingerprint, found a %s one", t[:i])
		}
	}
	if prefixed && len(t) == base64.RawStdEncoding.EncodedLen(sha256.Size) && !strings.Contains(t, ":") {
		if n, err := base64.RawStdEncoding.Decode(fp[:], []byte(t)); err == nil && n == sha256.Size {
			return ""
		}
	}
	h := t
	if strings.Contains(t, ":") {
		parts := strings.Split(t, ":")
		if len(parts) != sha256.Size {
			return fmt.Sprintf("expected a SHA-256 fingerprint as %d colon-separated hex pairs, found %d groups", sha256.Size, len(parts))
		}
		for _, part := range parts {
			if len(part) != 2 {
				return fmt.Sprintf("expected a SHA-256 fingerprint as %d colon-separated hex pairs, found the group %q", sha256.Size, part)
			}
		}
		h = strings.Join(parts, "")
	}
	if len(h) != digits {
		return fmt.Sprintf("expected a SHA-256 fingerprint of %d hex digits, found %d characters", digits, len(h))
	}
	if _, err := hex.Decode(fp[:], []byte(h)); err != nil {
		return "expected a SHA-256 fingerprint in hex, found a character that is not a hex digit"
	}
	return ""
}

// String returns the fingerprint as keytool -list and openssl x509
// -fingerprint print it: upper-case hexadecimal pairs separated by colons
// ("AB:CD:..."). The zero Fingerprint is "".
func (f Fingerprint) String() string {
	if f == (Fingerprint{}) {
		return ""
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(f)*3-1)
	for i, v := range f {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[v>>4], hexDigits[v&0x0f])
	}
	return string(b)
}

// Hex returns the fingerprint as 64 lower-case hexadecimal digits without
// separators, the compact form of JSON files and identifiers. The zero
// Fingerprint is "".
func (f Fingerprint) Hex() string {
	if f == (Fingerprint{}) {
		return ""
	}
	return hex.EncodeToString(f[:])
}

// MarshalText returns [Fingerprint.Hex], so that JSON holds fingerprints as
// lower-case hexadecimal.
func (f Fingerprint) MarshalText() ([]byte, error) { return []byte(f.Hex()), nil }

// UnmarshalText reads any form [ParseFingerprint] accepts; "" gives the
// zero Fingerprint.
func (f *Fingerprint) UnmarshalText(text []byte) error {
	fp, err := ParseFingerprint(string(text))
	if err != nil {
		return err
	}
	*f = fp
	return nil
}

// keyLabel names a key fingerprint in messages: "SHA256:AB:CD:...", which
// ParseFingerprint reads back, or "(unknown)" for the zero Fingerprint.
func keyLabel(f Fingerprint) string {
	if f == (Fingerprint{}) {
		return "(unknown)"
	}
	return "SHA256:" + f.String()
}

// marshalSPKI returns pub's SubjectPublicKeyInfo DER encoding. crypto/x509
// does not marshal DSA keys, which old JKS stores still hold, so those are
// encoded here as RFC 3279, section 2.3.2 specifies.
func marshalSPKI(pub crypto.PublicKey) ([]byte, bool) {
	if k, ok := pub.(*dsa.PublicKey); ok {
		return marshalDSASPKI(k)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return nil, false
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return nil, false
		}
	case *ecdh.PublicKey:
		if k == nil {
			return nil, false
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, false
		}
	default:
		return nil, false
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, false
	}
	return der, true
}

// oidDSA is id-dsa from RFC 3279, section 2.3.2.
var oidDSA = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}

func marshalDSASPKI(k *dsa.PublicKey) ([]byte, bool) {
	if k == nil || k.P == nil || k.Q == nil || k.G == nil || k.Y == nil {
		return nil, false
	}
	params, err := asn1.Marshal(struct{ P, Q, G *big.Int }{k.P, k.Q, k.G})
	if err != nil {
		return nil, false
	}
	y, err := asn1.Marshal(k.Y)
	if err != nil {
		return nil, false
	}
	type algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue
	}
	der, err := asn1.Marshal(struct {
		Algorithm algorithm
		PublicKey asn1.BitString
	}{
		Algorithm: algorithm{Algorithm: oidDSA, Parameters: asn1.RawValue{FullBytes: params}},
		PublicKey: asn1.BitString{Bytes: y, BitLength: 8 * len(y)},
	})
	if err != nil {
		return nil, false
	}
	return der, true
}

// KeyDescription names pub's algorithm and size the way keytool -list -v
// and openssl describe keys: "RSA 2048", "EC P-256", "Ed25519", "X25519",
// "DSA 2048". It returns "unknown" for any other value, and for a key whose
// parameters are missing.
func KeyDescription(pub crypto.PublicKey) string {
	if k, ok := pub.(*dsa.PublicKey); ok {
		if k == nil || k.P == nil {
			return "unknown"
		}
		return "DSA " + strconv.Itoa(k.P.BitLen())
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k != nil && k.N != nil {
			return "RSA " + strconv.Itoa(k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k != nil && k.Curve != nil && k.Curve.Params() != nil && k.Curve.Params().Name != "" {
			return "EC " + k.Curve.Params().Name
		}
	case *ecdh.PublicKey:
		if k != nil {
			return ecdhName(k.Curve())
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return "Ed25519"
		}
	}
	return "unknown"
}

func ecdhName(c ecdh.Curve) string {
	switch c {
	case ecdh.X25519():
		return "X25519"
	case ecdh.P256():
		return "EC P-256"
	case ecdh.P384():
		return "EC P-384"
	case ecdh.P521():
		return "EC P-521"
	}
	return "unknown"
}
