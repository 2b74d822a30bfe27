package keystore

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Private key algorithms by PKCS #8 OID, to name what Go cannot use.
var keyAlgorithms = map[string]string{
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

// goKeyAlgorithms are the PKCS #8 algorithms crypto/x509 parses: a key of
// one of them that does not parse is corrupt, not unsupported.
var goKeyAlgorithms = map[string]bool{
	"1.2.840.113549.1.1.1": true, // RSA
	"1.3.101.110":          true, // X25519
	"1.3.101.112":          true, // Ed25519
}

// goCurves are the named curves crypto/x509 parses EC keys on.
var goCurves = map[string]bool{
	"1.3.132.0.33":        true, // P-224
	"1.2.840.10045.3.1.7": true, // P-256
	"1.3.132.0.34":        true, // P-384
	"1.3.132.0.35":        true, // P-521
}

// keptAdvice is what every error about a key the package cannot use ends
// with.
const keptAdvice = "the entry still lists and is kept unchanged when the store is saved; " +
	"InstallReply with ReplyOptions.NewKey, or Set, replaces it"

// parsePrivateKey parses a decrypted PKCS #8 key of the entry under alias
// into a crypto.Signer. A key Go cannot use gives [ErrUnsupportedKey]
// naming the algorithm (and the curve); a key of an algorithm Go does use
// that does not parse, or bytes that are not PKCS #8 at all, give
// [ErrCorruptKey]: the key decrypted (so its password is right) but its
// contents are inconsistent, such as an RSA key whose primes do not
// multiply to its modulus.
func parsePrivateKey(f Format, alias string, der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("keystore: %v alias %q holds a %T, which cannot sign; %s: %w", f, alias, k, keptAdvice, ErrUnsupportedKey)
	}
	var info struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if rest, aerr := asn1.Unmarshal(der, &info); aerr != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: %v alias %q: the key decrypts to %d bytes that are not a PKCS #8 private key (%v); %s",
			ErrCorruptKey, f, alias, len(der), err, keptAdvice)
	}
	oid := info.Algo.Algorithm.String()
	name, ok := keyAlgorithms[oid]
	if !ok {
		name = "unknown algorithm"
	}
	corrupt := goKeyAlgorithms[oid]
	if name == "EC" {
		var curve asn1.ObjectIdentifier
		if _, cerr := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &curve); cerr == nil {
			if !goCurves[curve.String()] {
				return nil, fmt.Errorf("keystore: %v alias %q holds an EC private key on curve %s (OID %s) that Go cannot use; %s: %w: %w",
					f, alias, curveName(curve.String()), curve, keptAdvice, ErrUnsupportedKey, err)
			}
			corrupt = true
		}
	}
	if corrupt {
		return nil, fmt.Errorf("%w: %v alias %q: the %s private key (OID %s) decrypts but is inconsistent: %w; "+
			"restore the entry from a backup, or replace it (InstallReply with ReplyOptions.NewKey, or Set); the entry is kept unchanged when the store is saved",
			ErrCorruptKey, f, alias, name, oid, err)
	}
	return nil, fmt.Errorf("keystore: %v alias %q holds a %s private key (OID %s) that Go cannot use; %s: %w: %w",
		f, alias, name, oid, keptAdvice, ErrUnsupportedKey, err)
}
