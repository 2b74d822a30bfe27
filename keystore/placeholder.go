package keystore

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// Placeholder makes the self-signed certificate that stands for a new key
// until its CA reply arrives, as `keytool -genkeypair` does: subject and
// issuer are subject, valid for 90 days from now. It lets a pending key be
// kept in a keystore (a key entry needs a certificate) before the CA has
// signed it. The serial number is derived from the key and now.
func Placeholder(key crypto.Signer, subject pkix.Name, now time.Time) (*x509.Certificate, error) {
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("keystore: placeholder: %w", err)
	}
	h := sha256.Sum256(append(spki, []byte(now.UTC().Format(time.RFC3339Nano))...))
	h[0] &= 0x7f
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(h[:16]),
		Subject:      subject,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("keystore: placeholder: %w", err)
	}
	return x509.ParseCertificate(der)
}
