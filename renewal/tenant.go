package renewal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
)

// Tenant is the tenant side of a renewal: the live client keystore that
// the runtime reads, a staging store where the pending key waits for its
// certificate, and a history store where replaced entries are kept.
//
// The pending key and its self-signed placeholder certificate
// ([keystore.Placeholder]) live in the staging store, under the live
// alias, until the CA's reply is installed onto them. Activation
// ([Tenant.Activate]) copies the old entry into the history store, under
// [Activation.HistoryAlias], and then replaces the entry under the live alias
// by the new key and chain in one atomic save of the live keystore, which
// keeps the alias and every other entry as they were; the pending entry
// then leaves the staging store, so that the new private key is kept in
// one place. [Tenant.Rollback] reverses that. Each of these steps checks
// the stores' state first, so that running one again after an
// interruption finishes it rather than repeating it.
//
// Stores that do not exist are created in the live keystore's format, mode
// 0600. Every change goes through [keystore.Update], which locks the file
// against other programs using the same lock and writes atomically.
//
// The staging store holds the new private key until activation, and the
// history store keeps the old private key so that the change can be
// rolled back: both are as sensitive as the live keystore. Give them
// passwords as strong as its, keep them beside it, and delete the history
// entry once the renewal is confirmed and a rollback is no longer wanted.
// Passwords are never written to errors or logs.
//
// The zero value is not usable: Keystore and Alias are required. A Tenant
// may be used by one goroutine at a time; concurrent processes are
// serialised by the keystores' locks.
type Tenant struct {
	// Keystore is the path of the live client keystore, JKS or PKCS#12.
	Keystore string
	// Password is the live keystore's password. Nil is the empty password.
	Password []byte
	// KeyPassword protects the key entry under Alias in the live keystore,
	// if it differs from Password (keytool's -keypass). Nil means Password.
	// A new entry put under Alias is protected with it too.
	KeyPassword []byte
	// Alias is the key entry the runtime presents; it is kept.
	Alias string

	// Staging is the path of the staging store. Empty means Keystore +
	// ".staging".
	Staging string
	// StagingPassword protects the staging store and its key. Nil means
	// Password.
	StagingPassword []byte
	// History is the path of the history store. Empty means Keystore +
	// ".history".
	History string
	// HistoryPassword protects the history store and its keys. Nil means
	// Password.
	HistoryPassword []byte

	// KeyType is the type of the new key pair. The zero value means the
	// old key's type, when it is one [keystore.GenerateKey] makes (an RSA
	// key of less than 2048 bits becomes RSA-2048), and RSA-2048 otherwise:
	// the receiver and the CA already handle the old key's type, and every
	// receiver, CA and Java version handles RSA-2048.
	KeyType keystore.KeyType
	// Now is the clock that dates new entries and the placeholder
	// certificate, and the clock of an [Executor] running with this
	// Tenant: the journal's times, the events, the drain of the old
	// certificate and the downtime window (the downtime sequence refuses
	// to stop the flow after the window's end, and waits by the wall
	// clock until its start as this clock tells it). Nil means time.Now.
	Now func() time.Time
	// Rand is the randomness for the new key (see
	// [keystore.GenerateKey]). Nil means crypto/rand.
	Rand io.Reader
}

// Pending is the key in the staging store, waiting to be activated.
type Pending struct {
	// Key is the new private key.
	Key crypto.Signer
	// Chain is the placeholder certificate until the CA's reply is
	// installed, then the reply's chain, leaf first.
	Chain []*x509.Certificate
	// Signed is set once the CA's reply is installed.
	Signed bool
	// CSR is the certificate request for Key that [Tenant.Stage] made
	// ([keystore.RenewalCSR]: the current certificate's subject and
	// subject alternative names), and CSRPEM the same request PEM-encoded
	// ("CERTIFICATE REQUEST"), the form a CA takes. Both are nil in a
	// Pending that [Tenant.Pending] read back: the staging store keeps the
	// key, not the request; call Stage again for a new request for the
	// same key.
	CSR    *x509.CertificateRequest
	CSRPEM []byte
}

// Activation says what [Tenant.Activate] or [Tenant.Rollback] did.
type Activation struct {
	// HistoryAlias is the alias of the old entry in the history store.
	HistoryAlias string
	// Chain is the chain now under the live alias.
	Chain []*x509.Certificate
	// Files lists the files written.
	Files []string

	previous []*x509.Certificate // the chain that was under the live alias before, which String names
	alias    string              // the live alias, as the live keystore writes it
	already  bool                // the live alias already held the wanted certificate: only the bookkeeping was finished
}

// errUnchanged makes a keystore.Update callback skip the write.
var errUnchanged = errors.New("renewal: unchanged")

func (t *Tenant) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// stagingPath returns the path of the staging store.
func (t *Tenant) stagingPath() string {
	if t.Staging != "" {
		return t.Staging
	}
	return t.Keystore + ".staging"
}

// historyPath returns the path of the history store.
func (t *Tenant) historyPath() string {
	if t.History != "" {
		return t.History
	}
	return t.Keystore + ".history"
}

func (t *Tenant) stagingPassword() []byte {
	if t.StagingPassword != nil {
		return t.StagingPassword
	}
	return t.Password
}

func (t *Tenant) historyPassword() []byte {
	if t.HistoryPassword != nil {
		return t.HistoryPassword
	}
	return t.Password
}

func (t *Tenant) liveOptions() *keystore.StoreOptions {
	opts := &keystore.StoreOptions{Now: t.now}
	if t.KeyPassword != nil {
		opts.KeyPasswords = map[string][]byte{t.Alias: t.KeyPassword}
	}
	return opts
}

func (t *Tenant) check() error {
	switch {
	case t == nil:
		return errors.New("renewal: tenant: expected a Tenant, found nil")
	case t.Keystore == "":
		return errors.New("renewal: tenant: expected the live keystore's path in Keystore, found none")
	case t.Alias == "":
		return errors.New("renewal: tenant: expected the live alias in Alias, found none")
	case t.stagingPath() == t.Keystore || t.historyPath() == t.Keystore || t.stagingPath() == t.historyPath():
		return fmt.Errorf("renewal: tenant: expected distinct live, staging and history stores, found %q, %q and %q",
			t.Keystore, t.stagingPath(), t.historyPath())
	}
	return nil
}

// LiveChain returns the chain under the live alias, leaf first, without
// decrypting its key. The alias must hold a key entry.
func (t *Tenant) LiveChain() ([]*x509.Certificate, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	s, err := keystore.Open(t.Keystore, t.Password, t.liveOptions())
	if err != nil {
		return nil, err
	}
	return liveChain(s, t.Alias)
}

func liveChain(s *keystore.Store, alias string) ([]*x509.Certificate, error) {
	k, err := s.Kind(alias)
	if err != nil {
		return nil, err
	}
	if k != keystore.KeyEntry {
		return nil, fmt.Errorf("renewal: live alias %q holds a trusted certificate, expected the client's key entry: %w", alias, keystore.ErrNotKeyEntry)
	}
	c, err := s.Certificates(alias)
	if err != nil {
		return nil, err
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("renewal: live alias %q holds no certificate: %w", alias, ErrUnexpectedState)
	}
	return c, nil
}

// Pending returns the pending entry in the staging store, or nil and no
// error if there is none (no staging store, or no entry under the alias).
func (t *Tenant) Pending() (*Pending, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	s, err := keystore.Open(t.stagingPath(), t.stagingPassword(), &keystore.StoreOptions{Now: t.now})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.Kind(t.Alias); err != nil {
		return nil, nil
	}
	e, err := s.Entry(t.Alias)
	if err != nil {
		return nil, err
	}
	if e.Kind() != keystore.KeyEntry {
		return nil, fmt.Errorf("renewal: staging store %s: alias %q holds a trusted certificate, expected the pending key: %w", t.stagingPath(), t.Alias, ErrUnexpectedState)
	}
	return &Pending{Key: e.Key, Chain: e.Chain, Signed: !isPlaceholder(e.Chain)}, nil
}

// keyFor returns the private key of the key entry whose certificate is
// leaf, from whichever of the tenant's stores holds it now: the staging
// store (a pending key, before activation), the live keystore under the
// live alias, or the history store (an entry that activation replaced).
// The probe gates present a chain with it.
func (t *Tenant) keyFor(leaf *x509.Certificate) (crypto.Signer, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var errs []error
	p, err := t.Pending()
	switch {
	case err != nil:
		errs = append(errs, err)
	case p != nil && sameCert(p.Chain[0], leaf):
		return p.Key, nil
	}
	stores := []struct {
		path     string
		password []byte
		opts     *keystore.StoreOptions
		alias    string
	}{
		{t.Keystore, t.Password, t.liveOptions(), t.Alias},
		{t.historyPath(), t.historyPassword(), &keystore.StoreOptions{Now: t.now}, t.historyAlias(leaf)},
	}
	for _, st := range stores {
		s, err := keystore.Open(st.path, st.password, st.opts)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := s.Kind(st.alias); err != nil {
			continue
		}
		e, err := s.Entry(st.alias)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if e.Key != nil && sameCert(e.Leaf(), leaf) {
			return e.Key, nil
		}
	}
	return nil, errors.Join(append([]error{fmt.Errorf("renewal: the key of %s is in none of the live keystore %s (alias %q), the staging store %s and the history store %s: %w",
		describeCert(leaf), t.Keystore, t.Alias, t.stagingPath(), t.historyPath(), ErrUnexpectedState)}, errs...)...)
}

// isPlaceholder reports whether chain is a lone self-signed certificate,
// as [keystore.Placeholder] makes, rather than a CA's reply.
func isPlaceholder(chain []*x509.Certificate) bool {
	if len(chain) != 1 {
		return false
	}
	c := chain[0]
	// CheckSignature, not CheckSignatureFrom: a placeholder is not a CA
	// certificate, and only its self-signature matters here.
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// Stage makes sure the staging store holds a pending key for the renewal
// of current, and returns it with a certificate request for it in
// [Pending.CSR] and [Pending.CSRPEM] ([keystore.RenewalCSR]: current's
// subject and subject alternative names). A pending key already staged is reused, so that running Stage
// again after an interruption does not make another key; otherwise a new
// key of [Tenant.KeyType] is made and stored with a placeholder
// certificate, and the staging store is created if it does not exist.
func (t *Tenant) Stage(current *x509.Certificate) (*Pending, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if current == nil {
		return nil, errors.New("renewal: stage: expected the current certificate, found nil")
	}
	p, err := t.Pending()
	if err != nil {
		return nil, err
	}
	if p == nil {
		kt := t.KeyType
		if kt == 0 {
			kt = keyTypeFor(current.PublicKey)
		}
		key, err := keystore.GenerateKey(kt, t.Rand)
		if err != nil {
			return nil, err
		}
		ph, err := keystore.Placeholder(key, current.Subject, t.now())
		if err != nil {
			return nil, err
		}
		p = &Pending{Key: key, Chain: []*x509.Certificate{ph}}
		err = t.updateOrCreate(t.stagingPath(), t.stagingPassword(), func(s *keystore.Store) error {
			if _, err := s.Kind(t.Alias); err == nil {
				return fmt.Errorf("renewal: staging store %s: alias %q appeared while staging: %w", t.stagingPath(), t.Alias, ErrUnexpectedState)
			}
			return s.Set(&keystore.Entry{Alias: t.Alias, Key: key, Chain: p.Chain}, nil)
		})
		if err != nil {
			return nil, err
		}
	}
	csrPEM, err := keystore.RenewalCSR(p.Key, current)
	if err != nil {
		return nil, err
	}
	csr, err := keystore.ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	p.CSR, p.CSRPEM = csr, csrPEM
	return p, nil
}

// keyTypeFor returns the key type of a renewal of a certificate for pub:
// [keystore.KeyTypeOf], or RSA2048 for a key it does not know.
func keyTypeFor(pub crypto.PublicKey) keystore.KeyType {
	if kt := keystore.KeyTypeOf(pub); kt != 0 {
		return kt
	}
	return keystore.RSA2048
}

// Install installs a CA's reply onto the pending entry in the staging
// store with [keystore.Store.InstallReply]; anchors are the trust anchors
// the reply must reach (the new root). Installing the same reply again
// changes nothing.
func (t *Tenant) Install(reply []*x509.Certificate, anchors ...*x509.Certificate) (*keystore.ReplyResult, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var res *keystore.ReplyResult
	err := keystore.Update(context.Background(), t.stagingPath(), t.stagingPassword(), func(s *keystore.Store) error {
		var err error
		res, err = s.InstallReply(t.Alias, reply, &keystore.ReplyOptions{Anchors: anchors})
		if err != nil {
			return err
		}
		if res.Unchanged {
			return errUnchanged
		}
		return nil
	}, &keystore.UpdateOptions{StoreOptions: keystore.StoreOptions{Now: t.now}})
	if errors.Is(err, errUnchanged) {
		return res, nil
	}
	return res, err
}

// historyAlias returns the alias under which the entry holding old is
// kept in the history store: the live alias, "-", and the first 12 hex
// digits of old's SHA-256 fingerprint, so that it is the same in every
// run and distinct for every replaced certificate.
func (t *Tenant) historyAlias(old *x509.Certificate) string {
	return t.Alias + "-" + keystore.CertFingerprint(old).Hex()[:12]
}

// Activate puts the pending entry, whose certificate is next, under the
// live alias in place of the entry holding old, and keeps the old entry
// (key and chain) in the history store under [Activation.HistoryAlias]. The
// live keystore is written once, atomically, after the history store has
// been written; every other live entry stays as it was. The pending entry
// then leaves the staging store.
//
// If the live alias already holds next, Activate only finishes the
// bookkeeping and its [Activation] says so. If it holds neither old nor
// next, or the staging store holds no signed entry for next, nothing is
// changed and the error matches [ErrUnexpectedState].
func (t *Tenant) Activate(old, next *x509.Certificate) (*Activation, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if old == nil || next == nil {
		return nil, errors.New("renewal: activate: expected the old and the new certificate, found nil")
	}
	a := &Activation{HistoryAlias: t.historyAlias(old)}
	live, err := t.LiveChain()
	if err != nil {
		return nil, err
	}
	switch {
	case sameCert(live[0], next):
		a.already, a.Chain = true, live
	case !sameCert(live[0], old):
		return nil, t.unexpected(live[0], old, next)
	default:
		p, err := t.Pending()
		if err != nil {
			return nil, err
		}
		if p == nil || !p.Signed || !sameCert(p.Chain[0], next) {
			return nil, fmt.Errorf("renewal: activate: staging store %s holds no signed entry for the new certificate %s under alias %q: %w",
				t.stagingPath(), describeCert(next), t.Alias, ErrUnexpectedState)
		}
		err = keystore.Update(context.Background(), t.Keystore, t.Password, func(s *keystore.Store) error {
			cur, err := liveChain(s, t.Alias)
			if err != nil {
				return err
			}
			if !sameCert(cur[0], old) { // changed since it was read
				return t.unexpected(cur[0], old, next)
			}
			prev, err := s.Entry(t.Alias)
			if err != nil {
				return err
			}
			if err := t.keepHistory(a.HistoryAlias, prev); err != nil {
				return err
			}
			a.Files = append(a.Files, t.historyPath())
			if _, err := s.Replace(t.Alias, p.Key, p.Chain, nil); err != nil {
				return err
			}
			a.alias, a.previous, a.Chain = prev.Alias, prev.Chain, p.Chain
			return nil
		}, &keystore.UpdateOptions{StoreOptions: *t.liveOptions()})
		if err != nil {
			return nil, err
		}
		a.Files = append(a.Files, t.Keystore)
	}
	if a.alias == "" {
		a.alias = t.Alias
	}
	dropped, err := t.dropPending(next)
	if err != nil {
		return nil, err
	}
	if dropped {
		a.Files = append(a.Files, t.stagingPath())
	}
	return a, nil
}

// Rollback puts the old entry, kept in the history store when next was
// activated, back under the live alias in place of the entry holding next,
// and puts that entry back into the staging store, so that a later
// [Tenant.Activate] can activate it again. The staging store is written
// before the live keystore, so the new key is never only in memory.
//
// If the live alias already holds old, Rollback says so in its [Activation]
// and changes nothing. If it holds neither, or the history store lacks the
// old entry, nothing is changed and the error matches
// [ErrUnexpectedState].
func (t *Tenant) Rollback(old, next *x509.Certificate) (*Activation, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if old == nil || next == nil {
		return nil, errors.New("renewal: rollback: expected the old and the new certificate, found nil")
	}
	a := &Activation{alias: t.Alias, HistoryAlias: t.historyAlias(old)}
	live, err := t.LiveChain()
	if err != nil {
		return nil, err
	}
	switch {
	case sameCert(live[0], old):
		a.already, a.Chain = true, live
		return a, nil
	case !sameCert(live[0], next):
		return nil, t.unexpected(live[0], old, next)
	}
	hist, err := keystore.Open(t.historyPath(), t.historyPassword(), &keystore.StoreOptions{Now: t.now})
	if err != nil {
		return nil, fmt.Errorf("renewal: rollback needs the old entry from the history store: %w", err)
	}
	if _, err := hist.Kind(a.HistoryAlias); err != nil {
		return nil, fmt.Errorf("renewal: rollback: history store %s has no alias %q for the old certificate %s: %w",
			t.historyPath(), a.HistoryAlias, describeCert(old), ErrUnexpectedState)
	}
	kept, err := hist.Entry(a.HistoryAlias)
	if err != nil {
		return nil, err
	}
	if kept.Kind() != keystore.KeyEntry || !sameCert(kept.Leaf(), old) {
		return nil, fmt.Errorf("renewal: rollback: history store %s alias %q does not hold the old certificate %s: %w",
			t.historyPath(), a.HistoryAlias, describeCert(old), ErrUnexpectedState)
	}
	err = keystore.Update(context.Background(), t.Keystore, t.Password, func(s *keystore.Store) error {
		cur, err := s.Entry(t.Alias)
		if err != nil {
			return err
		}
		if cur.Kind() != keystore.KeyEntry || !sameCert(cur.Leaf(), next) {
			return t.unexpected(cur.Leaf(), old, next)
		}
		err = t.updateOrCreate(t.stagingPath(), t.stagingPassword(), func(st *keystore.Store) error {
			return st.Set(&keystore.Entry{Alias: t.Alias, Created: cur.Created, Key: cur.Key, Chain: cur.Chain}, nil)
		})
		if err != nil {
			return err
		}
		a.Files = append(a.Files, t.stagingPath())
		if _, err := s.Replace(t.Alias, kept.Key, kept.Chain, nil); err != nil {
			return err
		}
		a.alias, a.previous, a.Chain = cur.Alias, cur.Chain, kept.Chain
		return nil
	}, &keystore.UpdateOptions{StoreOptions: *t.liveOptions()})
	if err != nil {
		return nil, err
	}
	a.Files = append(a.Files, t.Keystore)
	return a, nil
}

func (t *Tenant) unexpected(found, old, next *x509.Certificate) error {
	return fmt.Errorf("renewal: live keystore %s alias %q holds %s, expected the old certificate %s or the new %s: %w",
		t.Keystore, t.Alias, describeCert(found), describeCert(old), describeCert(next), ErrUnexpectedState)
}

// keepHistory stores e in the history store under alias, unless it is
// there already.
func (t *Tenant) keepHistory(alias string, e *keystore.Entry) error {
	return t.updateOrCreate(t.historyPath(), t.historyPassword(), func(s *keystore.Store) error {
		if _, err := s.Kind(alias); err == nil {
			c, err := s.Certificates(alias)
			if err != nil {
				return err
			}
			if len(c) > 0 && sameCert(c[0], e.Leaf()) {
				return errUnchanged
			}
			return fmt.Errorf("renewal: history store %s: alias %q holds %s, not the old certificate %s: %w",
				t.historyPath(), alias, describeCert(c[0]), describeCert(e.Leaf()), ErrUnexpectedState)
		}
		return s.Set(&keystore.Entry{Alias: alias, Created: e.Created, Key: e.Key, Chain: e.Chain}, nil)
	})
}

// dropPending removes the staging entry if it holds next, and reports
// whether it did.
func (t *Tenant) dropPending(next *x509.Certificate) (bool, error) {
	if _, err := os.Stat(t.stagingPath()); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	dropped := false
	err := keystore.Update(context.Background(), t.stagingPath(), t.stagingPassword(), func(s *keystore.Store) error {
		if _, err := s.Kind(t.Alias); err != nil {
			return errUnchanged
		}
		c, err := s.Certificates(t.Alias)
		if err != nil {
			return err
		}
		if len(c) == 0 || !sameCert(c[0], next) {
			return errUnchanged // another pending key: not ours to remove
		}
		dropped = true
		return s.Delete(t.Alias)
	}, &keystore.UpdateOptions{StoreOptions: keystore.StoreOptions{Now: t.now}})
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	return dropped, err
}

// updateOrCreate edits the store at path with fn under its lock, creating
// it in the live keystore's format if it does not exist. A callback
// returning errUnchanged leaves the file as it is.
func (t *Tenant) updateOrCreate(path string, password []byte, fn func(*keystore.Store) error) error {
	opts := &keystore.UpdateOptions{StoreOptions: keystore.StoreOptions{Now: t.now}}
	if _, err := os.Stat(path); err != nil {
		format, err := t.liveFormat()
		if err != nil {
			return err
		}
		opts.Create = format
	}
	err := keystore.Update(context.Background(), path, password, fn, opts)
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

func (t *Tenant) liveFormat() (keystore.Format, error) {
	f, err := os.Open(t.Keystore)
	if err != nil {
		return 0, fmt.Errorf("renewal: %w", err)
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	return keystore.Sniff(head[:n])
}

func sameCert(a, b *x509.Certificate) bool {
	return a != nil && b != nil && bytes.Equal(a.Raw, b.Raw)
}

// describeCert names a certificate for messages: its short name and the
// start of its SHA-256 fingerprint.
func describeCert(c *x509.Certificate) string {
	if c == nil {
		return "no certificate"
	}
	fp := keystore.CertFingerprint(c).Hex()
	return fmt.Sprintf("%q (SHA-256 %s…)", chain.Name(c), fp[:16])
}
