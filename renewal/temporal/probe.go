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

// KeyFor finds the private key of leaf in the tenant's stores: pending
// in the staging store, under any key entry of the live keystore, or in
// the history store (where the old key goes at the swap).
func (t tenantStores) KeyFor(leaf *x509.Certificate) (crypto.Signer, error) {
	p, err := t.Pending()
	if err != nil {
		return nil, err
	}
	if p != nil && sameCert(p.Chain[0], leaf) {
		return p.Key, nil
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
				return e.Key, nil
			}
		}
	}
	errs = append(errs, fmt.Errorf("renewal/temporal: no key for %s in the tenant's stores", describe(leaf)))
	return nil, errors.Join(errs...)
}

// probeAccepts asks a receiver that implements [renewal.Prober] to
// accept a handshake presenting certs with its key; a receiver that is
// not a Prober passes. Stores that cannot give the key fail the check.
func probeAccepts(ctx context.Context, l *landscape, certs []*x509.Certificate) error {
	p, ok := l.receiver.(renewal.Prober)
	if !ok {
		return nil
	}
	key, err := l.stores.KeyFor(certs[0])
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
	key, err := l.stores.KeyFor(certs[0])
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
