package keystore

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/certroll/certroll/internal/keytoolname"
)

// Named curves by OID, to name those Go does not support.
var curveNames = map[string]string{
	"1.3.132.0.33":          "P-224",
	"1.2.840.10045.3.1.7":   "P-256",
	"1.3.132.0.34":          "P-384",
	"1.3.132.0.35":          "P-521",
	"1.3.132.0.10":          "secp256k1",
	"1.2.840.10045.3.1.1":   "secp192r1",
	"1.3.132.0.24":          "sect193r1",
	"1.3.132.0.25":          "sect193r2",
	"1.3.132.0.1":           "sect163k1",
	"1.3.132.0.15":          "sect163r2",
	"1.3.132.0.26":          "sect233k1",
	"1.3.132.0.27":          "sect233r1",
	"1.3.132.0.16":          "sect283k1",
	"1.3.132.0.17":          "sect283r1",
	"1.3.132.0.36":          "sect409k1",
	"1.3.132.0.37":          "sect409r1",
	"1.3.132.0.38":          "sect571k1",
	"1.3.132.0.39":          "sect571r1",
	"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
	"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
	"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
}

// curveName returns the curve's name, or "unknown curve".
func curveName(oid string) string {
	if n, ok := curveNames[oid]; ok {
		return n
	}
	return "unknown curve"
}

// rawKeyDescription describes a public key from its algorithm and curve
// OIDs: "EC secp256k1 (OID 1.3.132.0.10)", "DSA (OID 1.2.840.10040.4.1)".
func rawKeyDescription(algorithm, curve string) string {
	if algorithm == "" {
		return ""
	}
	name, ok := keyAlgorithms[algorithm]
	if !ok {
		name = "of unknown algorithm"
	}
	if curve != "" {
		return fmt.Sprintf("%s on curve %s (OID %s)", name, curveName(curve), curve)
	}
	return fmt.Sprintf("%s (OID %s)", name, algorithm)
}

// rawCertInfo is what can be read of a certificate without crypto/x509:
// the DER structure of RFC 5280 up to the public key's algorithm.
type rawCertInfo struct {
	Subject, Issuer  string
	Serial           *big.Int
	Algorithm, Curve string // OIDs
}

// readRawCert reads the names, serial number and public key algorithm of
// a certificate that crypto/x509 rejects. Whatever cannot be read is left
// empty.
func readRawCert(der []byte) rawCertInfo {
	var info rawCertInfo
	var cert struct {
		TBS struct {
			Version   int `asn1:"optional,explicit,default:0,tag:0"`
			Serial    asn1.RawValue
			Signature asn1.RawValue
			Issuer    asn1.RawValue
			Validity  asn1.RawValue
			Subject   asn1.RawValue
			SPKI      struct {
				Algorithm asn1.RawValue
				Key       asn1.RawValue
			}
		}
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		return info
	}
	tbs := &cert.TBS
	info.Subject, info.Issuer = keytoolname.Format(tbs.Subject.FullBytes), keytoolname.Format(tbs.Issuer.FullBytes)
	if tbs.Serial.Tag == asn1.TagInteger && tbs.Serial.Class == asn1.ClassUniversal && len(tbs.Serial.Bytes) > 0 {
		info.Serial = new(big.Int).SetBytes(tbs.Serial.Bytes)
		if tbs.Serial.Bytes[0]&0x80 != 0 {
			info.Serial.Sub(info.Serial, new(big.Int).Lsh(big.NewInt(1), uint(8*len(tbs.Serial.Bytes))))
		}
	}
	var algo struct {
		OID    asn1.ObjectIdentifier
		Params asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(tbs.SPKI.Algorithm.FullBytes, &algo); err != nil {
		return info
	}
	info.Algorithm = algo.OID.String()
	var curve asn1.ObjectIdentifier
	if keyAlgorithms[info.Algorithm] == "EC" && algo.Params.FullBytes != nil {
		if _, err := asn1.Unmarshal(algo.Params.FullBytes, &curve); err == nil {
			info.Curve = curve.String()
		}
	}
	return info
}

// certParseError builds the error for certificate i (0-based) of alias's
// chain of n that crypto/x509 rejected with err.
func certParseError(alias string, i, n int, der []byte, err error) *entryCertificateError {
	info := readRawCert(der)
	return &entryCertificateError{alias: alias, index: i + 1, count: n, sha256: CertFingerprint(&x509.Certificate{Raw: der}),
		subject: info.Subject, algorithm: info.Algorithm, curve: info.Curve, err: err}
}
