package keystore

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/certroll/certroll/internal/keytoolname"
)

// A Summary describes one entry for people, as `keytool -list -v` does,
// without decrypting its key. Its JSON (see [Summary.MarshalJSON]) has
// the entry's kind as keytool names it under "type".
type Summary struct {
	Alias       string
	Kind        EntryKind // its String is keytool's entry type: "PrivateKeyEntry", "trustedCertEntry" or "SecretKeyEntry"
	Created     time.Time
	Subject     string      // as keytool prints it: "CN=a, OU=b, O=c, C=DE"
	Issuer      string      // as keytool prints it
	Serial      string      // hexadecimal, as keytool prints it
	NotBefore   time.Time   // zero for an entry without a readable certificate
	NotAfter    time.Time   // zero for an entry without a readable certificate
	Fingerprint Fingerprint // SHA-256 of the leaf; zero for an entry without a certificate
	Key         string      // "RSA 2048", "EC P-256", ...
	ChainLength int         // 1 for a trusted entry
	Problem     string      // why the entry could not be described fully
}

// summaryJSON is the JSON form of a [Summary], field by field in the
// order it has always had.
type summaryJSON struct {
	Alias       string    `json:"alias"`
	Type        string    `json:"type"`
	Created     time.Time `json:"created"`
	Subject     string    `json:"subject,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Key         string    `json:"key,omitempty"`
	ChainLength int       `json:"chain_length"`
	Problem     string    `json:"problem,omitempty"`
	SHA256      string    `json:"sha256"`
}

// MarshalJSON writes the summary as an object with the keys "alias",
// "type" (the kind as keytool names it, "" for a zero Kind), "created",
// "subject", "issuer", "serial", "not_before", "not_after", "key" (those
// six left out when empty), "chain_length", "problem" (left out when
// empty) and "sha256" in keytool's form ("AB:CD:…"), as a listing prints
// it; an entry without a certificate has "".
func (s Summary) MarshalJSON() ([]byte, error) {
	w := summaryJSON{
		Alias: s.Alias, Created: s.Created, Subject: s.Subject, Issuer: s.Issuer, Serial: s.Serial,
		NotBefore: s.NotBefore, NotAfter: s.NotAfter, Key: s.Key, ChainLength: s.ChainLength, Problem: s.Problem,
	}
	if s.Kind != 0 {
		w.Type = s.Kind.String()
	}
	if s.Fingerprint != (Fingerprint{}) {
		w.SHA256 = s.Fingerprint.String()
	}
	return json.Marshal(w)
}

// Summaries describes every entry in store order. An entry whose
// certificate Go cannot parse is still listed, with the SHA-256
// fingerprint of its leaf's raw bytes, the subject, issuer and serial
// number where they can be read, the key's algorithm (and curve), and
// Problem saying why it cannot be parsed. A [SecretKeyEntry] has no
// certificate to describe.
func (s *Store) Summaries() []Summary {
	out := make([]Summary, 0, len(s.recs))
	for _, r := range s.recs {
		sum := Summary{Alias: r.alias, Kind: r.kind, Created: r.created, ChainLength: len(r.ders())}
		certs, err := r.chain()
		if err != nil {
			sum.Problem = err.Error()
			if leaf, lerr := x509.ParseCertificate(r.ders()[0]); lerr == nil {
				// Only a later certificate of the chain is unreadable.
				certs, err = []*x509.Certificate{leaf}, nil
			}
		}
		switch {
		case err != nil:
			// What the raw bytes still tell: the leaf's fingerprint and
			// names, and its key's algorithm.
			leaf := r.ders()[0]
			info := readRawCert(leaf)
			sum.Subject, sum.Issuer = info.Subject, info.Issuer
			sum.Serial = serialHex(info.Serial)
			sum.Fingerprint = CertFingerprint(&x509.Certificate{Raw: leaf})
			sum.Key = rawKeyDescription(info.Algorithm, info.Curve)
		case r.kind == SecretKeyEntry:
			// keytool lists nothing more for it.
		case len(certs) == 0:
			sum.Problem = "the entry has no certificate chain"
		default:
			leaf := certs[0]
			sum.Subject = keytoolname.Format(leaf.RawSubject)
			sum.Issuer = keytoolname.Format(leaf.RawIssuer)
			sum.Serial = serialHex(leaf.SerialNumber)
			sum.NotBefore, sum.NotAfter = leaf.NotBefore, leaf.NotAfter
			sum.Fingerprint = CertFingerprint(leaf)
			sum.Key = KeyDescription(leaf.PublicKey)
		}
		out = append(out, sum)
	}
	return out
}

func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() < 0 {
		return "-" + new(big.Int).Neg(n).Text(16)
	}
	return n.Text(16)
}

// WriteListing writes a listing of the store for people, in the manner of
// `keytool -list -v`: per entry its alias, entry type, creation date,
// subject, issuer, serial number, validity, SHA-256 fingerprint, key
// algorithm and size, and chain length. For a PKCS#12 store it then names
// the bags the file holds besides its entries and the certificates of no
// entry ([Store.OtherCertificates]): CRLs, secrets, bags of unknown types,
// an entry hidden by a later one of the same alias. keytool does not list
// them; they are written back unchanged. The line reads, for example,
// `Also kept, not entries: secretBag, crlBag "2024"`.
func (s *Store) WriteListing(w io.Writer) error {
	sums := s.Summaries()
	var b strings.Builder
	fmt.Fprintf(&b, "Keystore type: %v\n", s.format)
	noun := "entries"
	if len(sums) == 1 {
		noun = "entry"
	}
	fmt.Fprintf(&b, "Your keystore contains %d %s\n", len(sums), noun)
	for _, e := range sums {
		b.WriteString("\n")
		fmt.Fprintf(&b, "Alias name: %s\n", e.Alias)
		fmt.Fprintf(&b, "Creation date: %s\n", e.Created.UTC().Format(time.RFC3339))
		fmt.Fprintf(&b, "Entry type: %v\n", e.Kind)
		if e.Kind == KeyEntry {
			fmt.Fprintf(&b, "Certificate chain length: %d\n", e.ChainLength)
		}
		if e.Problem != "" {
			fmt.Fprintf(&b, "Problem: %s\n", e.Problem)
			if e.Fingerprint != (Fingerprint{}) {
				if e.Subject != "" {
					fmt.Fprintf(&b, "Owner: %s\n", e.Subject)
				}
				fmt.Fprintf(&b, "SHA256: %s\n", e.Fingerprint)
			}
			continue
		}
		if e.Kind == SecretKeyEntry {
			continue
		}
		fmt.Fprintf(&b, "Owner: %s\n", e.Subject)
		fmt.Fprintf(&b, "Issuer: %s\n", e.Issuer)
		fmt.Fprintf(&b, "Serial number: %s\n", e.Serial)
		fmt.Fprintf(&b, "Valid from: %s until: %s\n", e.NotBefore.UTC().Format(time.RFC3339), e.NotAfter.UTC().Format(time.RFC3339))
		fmt.Fprintf(&b, "SHA256: %s\n", e.Fingerprint)
		fmt.Fprintf(&b, "Subject Public Key Algorithm: %s\n", e.Key)
	}
	if kept := s.kept(true); len(kept) > 0 {
		// keytool does not list them; they are kept and written back.
		names := make([]string, len(kept))
		for i, k := range kept {
			names[i] = k.Type
			if k.Name != "" {
				names[i] += " " + strconv.Quote(k.Name)
			}
		}
		fmt.Fprintf(&b, "\nAlso kept, not entries: %s\n", strings.Join(names, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
