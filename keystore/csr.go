package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
)

// oidSubjectAltName is id-ce-subjectAltName (RFC 5280, section 4.2.1.6).
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// signatureAlgorithmFor returns the signature algorithm this package signs
// CSRs with for pub: SHA256WithRSA for every RSA size (what every CA and
// keytool accept; SHA-256 matches the 128-bit strength of RSA-3072),
// ECDSAWithSHA256, ECDSAWithSHA384 and ECDSAWithSHA512 for P-256, P-384 and
// P-521 (the hash matched to the curve, as RFC 5480 recommends), and
// PureEd25519 for Ed25519. Any other key gives an error wrapping
// [ErrUnsupportedKey].
func signatureAlgorithmFor(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, nil
	case *ecdsa.PublicKey:
		if k == nil {
			break
		}
		switch k.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256, nil
		case elliptic.P384():
			return x509.ECDSAWithSHA384, nil
		case elliptic.P521():
			return x509.ECDSAWithSHA512, nil
		}
		curve := "(none)"
		if k.Curve != nil && k.Curve.Params() != nil {
			curve = k.Curve.Params().Name
		}
		return x509.UnknownSignatureAlgorithm, fmt.Errorf("%w: got an ECDSA key on curve %s, want P-256, P-384 or P-521", ErrUnsupportedKey, curve)
	case ed25519.PublicKey:
		return x509.PureEd25519, nil
	}
	return x509.UnknownSignatureAlgorithm, fmt.Errorf("%w: got a %T (%s), want an RSA, ECDSA or Ed25519 key", ErrUnsupportedKey, pub, KeyDescription(pub))
}

// NewCSR returns a PEM "CERTIFICATE REQUEST" (PKCS #10) for key, with the
// subject, subject alternative names and extensions of tmpl (see
// [x509.CreateCertificateRequest] for the fields used). tmpl is not
// modified. If tmpl.SignatureAlgorithm is zero, the request is signed with
// SHA256WithRSA for every RSA size (what every CA and keytool accept),
// ECDSAWithSHA256, ECDSAWithSHA384 or ECDSAWithSHA512 for P-256, P-384 and
// P-521 (the hash matched to the curve, as RFC 5480 recommends), and
// PureEd25519 for Ed25519; any other key gives an error wrapping
// [ErrUnsupportedKey]. The signature is checked before the
// request is returned, so a signer that signs with another key (a
// misconfigured HSM, say) is caught here rather than by the CA.
//
// The randomness ECDSA signatures need comes from crypto/rand.
func NewCSR(key crypto.Signer, tmpl *x509.CertificateRequest) ([]byte, error) {
	if key == nil {
		return nil, errors.New("keystore: creating a certificate request: want a key, got nil")
	}
	if tmpl == nil {
		return nil, errors.New("keystore: creating a certificate request: want a template, got nil")
	}
	t := *tmpl
	if t.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		alg, err := signatureAlgorithmFor(key.Public())
		if err != nil {
			return nil, fmt.Errorf("keystore: creating a certificate request: %w", inner{err})
		}
		t.SignatureAlgorithm = alg
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &t, key)
	if err != nil {
		return nil, fmt.Errorf("keystore: creating a certificate request for a %s key: %w", KeyDescription(key.Public()), err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: the certificate request signed by the %s key %s does not verify: %w",
			KeyDescription(key.Public()), keyLabel(KeyFingerprint(key.Public())), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// RenewalCSR returns a PEM "CERTIFICATE REQUEST" for newKey that asks for a
// certificate like current: the same subject, byte for byte (current's raw
// encoded subject is reused, so attribute order and string types survive),
// and the same subject alternative names (the extension is copied as is,
// with its criticality, so DNS names, IP addresses, e-mail addresses, URIs
// and the names crypto/x509 does not parse, such as a Windows UPN, all
// survive in their order). Other extensions (key usage, extended key usage)
// are left to the CA's profile, as keytool -certreq does. The request is
// signed with the algorithm [NewCSR] picks for newKey and checked as it checks.
//
// newKey is normally a fresh key from [GenerateKey]; reusing current's key
// is allowed but defeats the purpose of a renewal with a new key pair.
func RenewalCSR(newKey crypto.Signer, current *x509.Certificate) ([]byte, error) {
	if current == nil {
		return nil, errors.New("keystore: creating a renewal request: want the current certificate, got nil")
	}
	tmpl := &x509.CertificateRequest{RawSubject: current.RawSubject}
	for _, ext := range current.Extensions {
		if ext.Id.Equal(oidSubjectAltName) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
		}
	}
	csr, err := NewCSR(newKey, tmpl)
	if err != nil {
		return nil, fmt.Errorf("keystore: renewing certificate %q: %w", current.Subject.String(), inner{err})
	}
	return csr, nil
}

// pemCSRTypes are the PEM labels of a PKCS #10 request: RFC 7468's, and the
// one keytool -certreq and old Netscape tools write.
var pemCSRTypes = map[string]bool{"CERTIFICATE REQUEST": true, "NEW CERTIFICATE REQUEST": true}

// ParseCSR reads a PKCS #10 certificate request, PEM ("CERTIFICATE
// REQUEST", or "NEW CERTIFICATE REQUEST" as keytool writes it, with any
// text around it) or DER, and checks its self-signature. Input that holds
// no request, more than one, or a request that does not parse or verify
// gives a [*MalformedError] matching [ErrMalformed].
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	const input = "certificate request"
	fail := func(enc string, offset int64, detail string, err error) (*x509.CertificateRequest, error) {
		return nil, &MalformedError{input: input, Encoding: enc, Index: -1, Offset: offset, detail: detail, err: err}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fail("", -1, "expected a PEM or DER certificate request, found "+describeEmpty(data), nil)
	}
	der, enc := data, "DER"
	if looksPEM(data) {
		enc = "PEM"
		der = nil
		var others []string
		for rest := data; ; {
			start := pemBlockStart(rest)
			if start < 0 {
				break
			}
			offset := int64(len(data) - len(rest) + start)
			block, after := pem.Decode(rest[start:])
			if block == nil || bytes.Contains(rest[start+1:len(rest)-len(after)], pemLineBegin) {
				return fail(enc, offset, fmt.Sprintf("expected a complete PEM block, found a truncated or malformed one beginning %q", firstLine(rest[start:])), nil)
			}
			rest = after
			if !pemCSRTypes[block.Type] {
				if len(others) < 5 && !slices.Contains(others, block.Type) {
					others = append(others, block.Type)
				}
				continue
			}
			if der != nil {
				return fail(enc, offset, "expected one CERTIFICATE REQUEST block, found a second one", nil)
			}
			der = block.Bytes
		}
		if der == nil {
			return fail(enc, -1, fmt.Sprintf("expected a CERTIFICATE REQUEST PEM block, found blocks %q", others), nil)
		}
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fail(enc, -1, "crypto/x509 cannot parse it", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return fail(enc, -1, fmt.Sprintf("expected a valid self-signature by its %s key %s, found one that does not verify",
			KeyDescription(csr.PublicKey), keyLabel(KeyFingerprint(csr.PublicKey))), err)
	}
	return csr, nil
}
