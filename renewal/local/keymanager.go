package local

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/renewal/probe"
)

// keyEntry is one key entry a node loaded from the tenant keystore: its
// alias, its chain (leaf first) and the certificate it offers in a
// handshake.
type keyEntry struct {
	alias string
	chain []*x509.Certificate
	cert  *tls.Certificate
}

// keyManager chooses the client certificate a node offers, as Java's
// default key manager (SunX509) does: among the key entries of the
// keystore the node loaded, one whose chain has an issuer among the
// certificate authority names the server advertises in its
// CertificateRequest; any entry when the server advertises none. The
// entries are held with the configured alias first, so that it is
// preferred when several match; the others follow in keystore order.
//
// The rule is renewal/probe's [probe.JavaChooses], the one the receiver
// probe applies to the chain it presents, so that a node and the probe
// never disagree about what a Java client would present.
type keyManager struct {
	keystore string
	entries  []keyEntry
	inflight int // messages on the way with these entries; guarded by Runtime.mu
}

// choose returns the entry to offer for the advertised DER names, or nil
// when no entry's chain has an issuer among them.
func (km *keyManager) choose(names [][]byte) *keyEntry {
	if len(names) == 0 {
		return &km.entries[0]
	}
	for i := range km.entries {
		if probe.JavaChooses(names, km.entries[i].chain) {
			return &km.entries[i]
		}
	}
	return nil
}

// noneMatches is the error of a node whose key manager found no entry for
// names: it wraps [ErrNoCertificate] and names what was advertised and
// what the node holds.
func (km *keyManager) noneMatches(node string, names [][]byte) error {
	held := make([]string, len(km.entries))
	for i, e := range km.entries {
		held[i] = fmt.Sprintf("%q (%s, issued by %s)", e.alias, chain.Name(e.chain[0]), issuerNames(e.chain))
	}
	return fmt.Errorf("%w: on %s, no key entry's issuer is among the CA names the receiver advertises (%s); %s holds %s, so the receiver must advertise one of those issuers",
		ErrNoCertificate, node, strings.Join(nameList(names), ", "), km.keystore, strings.Join(held, ", "))
}

// nameList prints DER names in the short form of chain.Name ("CN=" and
// the common name, or the whole RFC 4514 name); "none" for no names.
func nameList(names [][]byte) []string {
	if len(names) == 0 {
		return []string{"none"}
	}
	out := make([]string, len(names))
	for i, raw := range names {
		out[i] = shortName(raw)
	}
	return out
}

// shortName prints one DER name as chain.Name prints a subject; a name
// that does not decode is printed in hex.
func shortName(raw []byte) string {
	var rdn pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &rdn); err != nil || len(rest) != 0 {
		return fmt.Sprintf("undecodable name %x", raw)
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdn)
	if n.CommonName != "" {
		return "CN=" + n.CommonName
	}
	return n.String()
}

// issuerNames lists the distinct issuers of c's certificates, leaf first.
func issuerNames(c []*x509.Certificate) string {
	var out []string
	for _, cert := range c {
		if s := shortName(cert.RawIssuer); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " and ")
}
