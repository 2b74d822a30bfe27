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
	"math/big"
	"strconv"
)

// CertFingerprint returns the SHA-256 fingerprint of c's DER encoding as
// upper-case hexadecimal byte pairs separated by colons ("AB:CD:..."), the
// form keytool -list and openssl x509 -fingerprint -sha256 print, so that an
// administrator can compare it with their output. It returns "" for a nil
// certificate.
func CertFingerprint(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	sum := sha256.Sum256(c.Raw)
	const digits = "0123456789ABCDEF"
	b := make([]byte, 0, len(sum)*3-1)
	for i, v := range sum {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, digits[v>>4], digits[v&0x0f])
	}
	return string(b)
}

// Fingerprint256Hex returns the SHA-256 fingerprint of c's DER encoding as
// 64 lower-case hexadecimal digits without separators, the compact form used
// in JSON summaries and in identifiers. It returns "" for a nil certificate.
func Fingerprint256Hex(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// KeyFingerprint returns "SHA256:" followed by the unpadded standard base64
// of the SHA-256 of pub's PKIX SubjectPublicKeyInfo DER encoding. The form
// follows OpenSSH's key fingerprints, but the hashed bytes are the X.509
// encoding, so the same key gives the same fingerprint whether it comes from
// a certificate, a CSR or a private key, and it can be recomputed with
//
//	openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64
//
// (dropping the trailing "="). pub may be an *rsa.PublicKey,
// *ecdsa.PublicKey, ed25519.PublicKey, *ecdh.PublicKey or *dsa.PublicKey; for
// any other value, or a key that cannot be encoded, it returns "unknown".
// Fingerprints of two "unknown" keys must not be compared.
func KeyFingerprint(pub crypto.PublicKey) string {
	der, ok := marshalSPKI(pub)
	if !ok {
		return "unknown"
	}
	sum := sha256.Sum256(der)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
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
