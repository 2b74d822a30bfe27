package truststore_test

import (
	"crypto/x509"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/truststore"
)

// fromCertificates returns a PEM bundle trust set holding certs under
// derived aliases, every certificate given kept once, CA or not: what a
// caller that names the certificates to trust writes.
func fromCertificates(certs ...*x509.Certificate) (*truststore.Set, error) {
	s := truststore.New(truststore.PEMBundle)
	if _, err := s.Merge(truststore.Certs(certs...), &truststore.MergeOptions{IncludeNonCA: true}); err != nil {
		return nil, err
	}
	return s, nil
}

// counts sums up a report as its JSON "counts" does.
type counts struct {
	Added, Skipped, Reissued, Renamed, Removed, Refused, LeftOut int
}

func countsOf(r *truststore.Report) counts {
	c := counts{Added: len(r.Added), Skipped: len(r.Skipped), Removed: len(r.Removed), Refused: len(r.Refused), LeftOut: len(r.LeftOut)}
	for _, ch := range r.Added {
		if len(ch.ReissueOf) > 0 {
			c.Reissued++
		}
		if ch.RequestedAlias != "" {
			c.Renamed++
		}
	}
	return c
}

// changed reports whether the operation added or removed anything.
func changed(r *truststore.Report) bool { return len(r.Added)+len(r.Removed) > 0 }

// size is the number of certificates in the set.
func size(s *truststore.Set) int { return len(s.Certificates()) }

// certPool returns a pool of the set's certificates.
func certPool(s *truststore.Set) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range s.Certificates() {
		p.AddCert(c)
	}
	return p
}

// expiredAt selects the certificates whose validity ended before t.
func expiredAt(t time.Time) truststore.Selector {
	return truststore.Where("expired at "+t.UTC().Format(time.RFC3339), func(e truststore.Entry) bool { return e.Cert.NotAfter.Before(t) })
}

// pinnedCertificates declares each certificate in use as a chain of its
// own, named "name CN=...".
func pinnedCertificates(name string, certs ...*x509.Certificate) []truststore.Dependent {
	out := make([]truststore.Dependent, 0, len(certs))
	for _, c := range certs {
		out = append(out, truststore.Dependent{Name: name + " " + chain.Name(c), Chain: []*x509.Certificate{c}})
	}
	return out
}

// equalSets reports whether a diff found the same certificates under the
// same aliases.
func equalSets(d *truststore.DiffReport) bool {
	return len(d.OnlyInA)+len(d.OnlyInB)+len(d.AliasChanged) == 0
}
