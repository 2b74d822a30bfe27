package temporal

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/probe"
)

// keyFor finds the private key of leaf in the tenant's stores: pending
// in the staging store, under any key entry of the live keystore, or in
// the history store (where the old key goes at the swap). It returns
// false for Stores that are not a *renewal.Tenant (through Unwrap).
func keyFor(s Stores, leaf *x509.Certificate) (crypto.Signer, bool, error) {
	var t *renewal.Tenant
	for t == nil {
		switch v := s.(type) {
		case *renewal.Tenant:
			t = v
		case Unwrapper:
			s = v.Unwrap()
		default:
			return nil, false, nil
		}
	}
	p, err := t.Pending()
	if err != nil {
		return nil, true, err
	}
	if p != nil && sameCert(p.Chain[0], leaf) {
		return p.Key, true, nil
	}
	history, historyPW := t.History, t.HistoryPassword
	if history == "" {
		history = t.Keystore + ".history"
	}
	if historyPW == nil {
		historyPW = t.Password
	}
	live := &keystore.StoreOptions{}
	if t.KeyPassword != nil {
		live.KeyPasswords = map[string][]byte{t.Alias: t.KeyPassword}
	}
	var errs []error
	for _, st := range []struct {
		path string
		pw   []byte
		opts *keystore.StoreOptions
	}{{t.Keystore, t.Password, live}, {history, historyPW, nil}} {
		ks, err := keystore.Open(st.path, st.pw, st.opts)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range ks.Aliases() {
			if k, err := ks.Kind(a); err != nil || k != keystore.KeyEntry {
				continue
			}
			e, err := ks.Entry(a)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if e.Key != nil && sameCert(e.Leaf(), leaf) {
				return e.Key, true, nil
			}
		}
	}
	errs = append(errs, fmt.Errorf("renewal/temporal: no key for %s in the tenant's stores", describe(leaf)))
	return nil, true, errors.Join(errs...)
}

// probeAccepts asks a receiver that implements [renewal.Prober] to
// accept a handshake presenting certs with its key; a receiver that is
// not a Prober, or Stores that cannot give the key, pass.
func probeAccepts(ctx context.Context, l *landscape, certs []*x509.Certificate) error {
	p, ok := l.receiver.(renewal.Prober)
	if !ok {
		return nil
	}
	key, ok, err := keyFor(l.stores, certs[0])
	if !ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("renewal/temporal: cannot probe the receiver: %w", err)
	}
	return p.Probe(ctx, certs, key)
}

// probeRefuses checks, for a [renewal.Prober] receiver, that the running
// server refuses a handshake presenting certs, as the executor does after
// the old certificate and root are removed: a probe that fails only
// because the server does not advertise the chain's root name counts as
// accepted.
func probeRefuses(ctx context.Context, l *landscape, certs []*x509.Certificate) error {
	p, ok := l.receiver.(renewal.Prober)
	if !ok {
		return nil
	}
	key, ok, err := keyFor(l.stores, certs[0])
	if !ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("renewal/temporal: cannot probe the receiver with %s, so whether it still accepts it in a handshake is unknown: %w", describe(certs[0]), err)
	}
	err = p.Probe(ctx, certs, key)
	var pe *probe.Error
	if err == nil || (errors.As(err, &pe) && pe.Handshake == nil && pe.Exchange == nil && !pe.NotRequested && pe.Status == 0) {
		return fmt.Errorf("renewal/temporal: the receiver still accepts the certificate %s in a handshake (its chain %s): reload the receiver, and remove every pin or root that lets it in: %w",
			describe(certs[0]), chain.Path(certs), renewal.ErrUnexpectedState)
	}
	return nil
}
