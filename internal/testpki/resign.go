package testpki

import (
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

var oidMD5WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}

// certificate is the outer structure of an X.509 certificate (RFC 5280,
// section 4.1) with the TBSCertificate kept as raw bytes.
type certificate struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

// resignMD5 rewrites a certificate signed with SHA256WithRSA so that it is
// signed with MD5WithRSA by key: the algorithm identifier inside the
// TBSCertificate and the outer one both change, and the signature is
// recomputed over the new TBSCertificate.
func resignMD5(t testing.TB, der []byte, key crypto.Signer) []byte {
	t.Helper()
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("testpki: MD5 signature needs an RSA issuer key, have %T", key)
	}
	var c certificate
	if rest, err := asn1.Unmarshal(der, &c); err != nil || len(rest) > 0 {
		t.Fatalf("testpki: reparse certificate: %v", err)
	}
	// TBSCertificate is a SEQUENCE: [0] version, serialNumber, signature, ...
	var fields []asn1.RawValue
	if _, err := asn1.Unmarshal(c.TBS.FullBytes, &fields); err != nil {
		t.Fatalf("testpki: reparse TBSCertificate: %v", err)
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: oidMD5WithRSA, Parameters: asn1.NullRawValue}
	algDER, err := asn1.Marshal(alg)
	if err != nil {
		t.Fatalf("testpki: marshal algorithm: %v", err)
	}
	idx := 1 // signature follows serialNumber when the version is absent
	if fields[0].Class == asn1.ClassContextSpecific {
		idx = 2
	}
	fields[idx] = asn1.RawValue{FullBytes: algDER}
	tbs, err := asn1.Marshal(fields)
	if err != nil {
		t.Fatalf("testpki: marshal TBSCertificate: %v", err)
	}
	digest := md5.Sum(tbs)
	sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.MD5, digest[:])
	if err != nil {
		t.Fatalf("testpki: MD5 signature: %v", err)
	}
	c.TBS = asn1.RawValue{FullBytes: tbs}
	c.Algorithm = alg
	c.Signature = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	out, err := asn1.Marshal(c)
	if err != nil {
		t.Fatalf("testpki: marshal certificate: %v", err)
	}
	return out
}
