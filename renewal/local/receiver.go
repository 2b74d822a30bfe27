package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
)

// ReceiverConfig configures a [Receiver]. Truststore and Accepted are
// required; the zero value of every other field is documented.
type ReceiverConfig struct {
	// Truststore is the path of the file listing the roots the receiver
	// trusts for client certificates. A missing file is created empty.
	Truststore string
	// TruststoreKind is the truststore's kind: [truststore.JKS],
	// [truststore.PKCS12] (Java's default keystore type since Java 9),
	// both holding the trusted roots as trusted-certificate entries, or
	// [truststore.PEMBundle], a PEM bundle of roots as OpenSSL-based
	// servers (nginx, Apache httpd) keep them. It decides the format of a
	// file the receiver creates and whether an existing file is read as a
	// keystore (JKS and PKCS#12 are told apart by their contents) or as
	// PEM. The zero value means [truststore.JKS]; [truststore.Directory]
	// is refused.
	TruststoreKind truststore.Kind
	// TruststorePassword protects a JKS or PKCS#12 truststore; it is
	// ignored for a PEM bundle. The receiver keeps a copy. Nil is the
	// empty password.
	TruststorePassword []byte

	// Accepted is the path of the PEM file listing the client certificates
	// the receiver accepts: its mapping of certificates to the technical
	// user. A client whose chain verifies to a trusted root is still
	// refused unless its leaf is listed here. A missing file is created
	// empty.
	Accepted string

	// Now is the clock at which client certificates are verified, by
	// [Receiver.Accepts] and by the HTTPS server alike, and which dates
	// the receiver's own server certificate (a root and a certificate for
	// the loopback addresses, made by [NewReceiver]; a [Runtime] given
	// the receiver verifies it at this clock too). Nil means time.Now.
	Now func() time.Time
}

// Receiver is a file-based [renewal.Receiver] and the HTTPS server it
// configures: the receiving system of a renewal run on one machine.
//
// Its configuration lives in two files, edited atomically so that the
// server (and another program reading them) sees either the old or the
// new version: a truststore of roots trusted for client certificates,
// and a PEM file of accepted client certificates. A client is accepted
// when its chain verifies, for clientAuth at the receiver's clock, to a
// trusted root, and its leaf is in the accepted list; [chain.Receiver]
// decides, for [Receiver.Accepts] and the server alike, so that their
// verdicts agree.
//
// The server ([Receiver.Start]) requires a client certificate on every
// connection, advertises the subjects of the trusted roots as the
// acceptable CA names of its CertificateRequest (or those
// [Receiver.AdvertiseOnly] chose), rereads the files when they change (it
// checks them at every handshake), resumes no session, and closes every connection after one
// response, so that every request is authenticated against the
// configuration current at that moment.
//
// It also records, for every handshake, which client certificate was
// presented and when, accepted or not; [Receiver.LastSeen] answers from
// that record.
//
// A Receiver is safe for concurrent use.
type Receiver struct {
	cfg      ReceiverConfig
	server   *serverIdentity
	errorLog *log.Logger // the HTTPS server's errors, such as refused handshakes: discarded

	mu      sync.Mutex // guards snap, reloads and advertise
	snap    *snapshot
	reloads int
	// advertise, when not nil, lists the only roots whose names the
	// server advertises ([Receiver.AdvertiseOnly]); nil means every
	// trusted root.
	advertise []*x509.Certificate

	srvMu sync.Mutex // guards srv, url, done and started
	srv   *http.Server
	url   string
	done  chan struct{}
	// started is set once the server has been started: a receiver that
	// was never started is its files only, one that was started and is
	// not running refuses every probe.
	started bool

	servedMu sync.Mutex
	served   map[string]int

	seenMu sync.Mutex
	seen   map[[sha256.Size]byte]time.Time // last handshake per client leaf, by SHA-256 of its DER
}

var (
	_ renewal.Receiver      = (*Receiver)(nil)
	_ renewal.UsageObserver = (*Receiver)(nil)
	_ renewal.Prober        = (*Receiver)(nil)
)

// Headers written at the top of the PEM files the receiver writes.
const (
	acceptedHeader = "certroll local receiver: accepted client certificates (each is mapped to the technical user)"
	trustPEMHeader = "certroll local receiver: roots trusted for client certificates"
)

// errUnchanged ends a keystore.Update without writing the file.
var errUnchanged = errors.New("local: unchanged")

// NewReceiver returns a receiver configured by cfg, creating the
// truststore and the accepted list if they do not exist. It reads both
// files once, so that a wrong password or a damaged file is reported here.
// The HTTPS server is not started; see [Receiver.Start].
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Truststore == "" {
		return nil, errors.New("local: ReceiverConfig.Truststore: want a file path, got none")
	}
	if cfg.Accepted == "" {
		return nil, errors.New("local: ReceiverConfig.Accepted: want a file path, got none")
	}
	switch cfg.TruststoreKind {
	case 0:
		cfg.TruststoreKind = truststore.JKS
	case truststore.JKS, truststore.PKCS12, truststore.PEMBundle:
	default:
		return nil, fmt.Errorf("local: ReceiverConfig.TruststoreKind: want JKS, PKCS#12 or PEM bundle, got %v", cfg.TruststoreKind)
	}
	cfg.TruststorePassword = bytes.Clone(cfg.TruststorePassword)
	if cfg.TruststorePassword == nil {
		cfg.TruststorePassword = []byte{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	id, err := newServerIdentity(cfg.Now, nil)
	if err != nil {
		return nil, err
	}
	// In a renewal, refused handshakes are expected at times, and the
	// nodes record them, so the server's error log is discarded.
	r := &Receiver{cfg: cfg, server: id, errorLog: log.New(io.Discard, "", 0), served: make(map[string]int), seen: make(map[[sha256.Size]byte]time.Time)}
	if err := r.create(); err != nil {
		return nil, err
	}
	if _, err := r.current(); err != nil {
		return nil, err
	}
	return r, nil
}

// create makes the truststore and the accepted list if they are missing.
func (r *Receiver) create() error {
	if _, err := os.Stat(r.cfg.Truststore); errors.Is(err, fs.ErrNotExist) {
		switch r.cfg.TruststoreKind {
		case truststore.PEMBundle:
			err = writeFileAtomic(r.cfg.Truststore, formatCertList(trustPEMHeader, nil))
		case truststore.PKCS12:
			err = r.createStore(keystore.PKCS12)
		default:
			err = r.createStore(keystore.JKS)
		}
		if err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if _, err := os.Stat(r.cfg.Accepted); errors.Is(err, fs.ErrNotExist) {
		return writeFileAtomic(r.cfg.Accepted, formatCertList(acceptedHeader, nil))
	} else if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// createStore creates the keystore truststore in format f, unless another
// process created it meanwhile.
func (r *Receiver) createStore(f keystore.Format) error {
	opts := r.keystoreOptions()
	opts.Create = f
	return keystore.Update(context.Background(), r.cfg.Truststore, r.cfg.TruststorePassword, func(*keystore.Store) error { return nil }, opts)
}

func (r *Receiver) keystoreOptions() *keystore.UpdateOptions {
	return &keystore.UpdateOptions{StoreOptions: keystore.StoreOptions{Now: r.cfg.Now}}
}

// TrustRoot adds root to the truststore: a trusted-certificate entry in a
// keystore, or a block in a PEM bundle. A keystore entry gets the alias
// "<common name>-<first 12 hex digits of its SHA-256>", lower-cased, with
// characters other than letters, digits, '-' and '.' replaced by '-'.
// Trusting a root already trusted (compared byte for byte) changes
// nothing.
func (r *Receiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	if root == nil {
		return errors.New("local: TrustRoot: nil certificate")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.cfg.TruststoreKind == truststore.PEMBundle {
		return updateCertList(r.cfg.Truststore, trustPEMHeader, func(cs []*x509.Certificate) ([]*x509.Certificate, bool) {
			if indexOf(cs, root) >= 0 {
				return cs, false
			}
			return append(cs, root), true
		})
	}
	err := keystore.Update(context.Background(), r.cfg.Truststore, r.cfg.TruststorePassword, func(s *keystore.Store) error {
		roots, _, err := trustedEntries(s)
		if err != nil {
			return err
		}
		if indexOf(roots, root) >= 0 {
			return errUnchanged
		}
		return s.Set(&keystore.Entry{Alias: trustAlias(s, root), Chain: []*x509.Certificate{root}}, nil)
	}, r.keystoreOptions())
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// RemoveRoot removes every truststore entry holding root (compared byte
// for byte). Removing a root that is not trusted changes nothing. Client
// certificates that chain only to root are refused from the next
// handshake on.
func (r *Receiver) RemoveRoot(ctx context.Context, root *x509.Certificate) error {
	if root == nil {
		return errors.New("local: RemoveRoot: nil certificate")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.cfg.TruststoreKind == truststore.PEMBundle {
		return updateCertList(r.cfg.Truststore, trustPEMHeader, func(cs []*x509.Certificate) ([]*x509.Certificate, bool) {
			return remove(cs, root)
		})
	}
	err := keystore.Update(context.Background(), r.cfg.Truststore, r.cfg.TruststorePassword, func(s *keystore.Store) error {
		roots, aliases, err := trustedEntries(s)
		if err != nil {
			return err
		}
		n := 0
		for i, c := range roots {
			if bytes.Equal(c.Raw, root.Raw) {
				if err := s.Delete(aliases[i]); err != nil {
					return err
				}
				n++
			}
		}
		if n == 0 {
			return errUnchanged
		}
		return nil
	}, r.keystoreOptions())
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// AcceptClient adds the leaf of chain (its first certificate) to the
// accepted list. The rest of the chain is not stored: the client sends its
// intermediates in the handshake, and the root must be trusted with
// [Receiver.TrustRoot]. Accepting a leaf already accepted changes nothing.
func (r *Receiver) AcceptClient(ctx context.Context, chain []*x509.Certificate) error {
	if len(chain) == 0 || chain[0] == nil {
		return errors.New("local: AcceptClient: want a chain with a leaf certificate, got none")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	leaf := chain[0]
	return updateCertList(r.cfg.Accepted, acceptedHeader, func(cs []*x509.Certificate) ([]*x509.Certificate, bool) {
		if indexOf(cs, leaf) >= 0 {
			return cs, false
		}
		return append(cs, leaf), true
	})
}

// RemoveClient removes leaf from the accepted list. Removing a leaf that is
// not accepted changes nothing. A client presenting leaf is refused from
// the next handshake on.
func (r *Receiver) RemoveClient(ctx context.Context, leaf *x509.Certificate) error {
	if leaf == nil {
		return errors.New("local: RemoveClient: nil certificate")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return updateCertList(r.cfg.Accepted, acceptedHeader, func(cs []*x509.Certificate) ([]*x509.Certificate, bool) {
		return remove(cs, leaf)
	})
}

// Accepts reads the receiver's files as the server would at its next
// handshake and returns nil if a client presenting clientChain (leaf first) is
// accepted now. Otherwise the error wraps [ErrNotAccepted] and a
// [*chain.VerifyError] listing every problem; a client certificate missing
// from the accepted list is a problem with [chain.ErrNotPinned]. If the
// files cannot be read the error says so and does not wrap ErrNotAccepted.
func (r *Receiver) Accepts(ctx context.Context, clientChain []*x509.Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := r.current()
	if err != nil {
		return err
	}
	return s.verify(clientChain, r.cfg.Now())
}

// Roots returns the roots the truststore holds now, in file order.
func (r *Receiver) Roots() ([]*x509.Certificate, error) {
	s, err := r.current()
	if err != nil {
		return nil, err
	}
	return append([]*x509.Certificate(nil), s.roots...), nil
}

// AcceptedClients returns the client certificates the accepted list holds
// now, in file order.
func (r *Receiver) AcceptedClients() ([]*x509.Certificate, error) {
	s, err := r.current()
	if err != nil {
		return nil, err
	}
	return append([]*x509.Certificate(nil), s.accepted...), nil
}

// LastSeen returns when, by the receiver's clock ([ReceiverConfig.Now]),
// a client last presented leaf (compared byte for byte) in a handshake
// with the receiver's server, whether the handshake then succeeded or
// not: a certificate the receiver refuses (an unknown root, a leaf not in
// the accepted list, an expired one) is recorded too. The zero time means
// no client has presented leaf since [NewReceiver]. It implements
// [renewal.UsageObserver], so that the gate before the old certificate
// and root are removed waits until no client has presented the old
// certificate for [renewal.Executor.Drain].
//
// The record is made when the client's certificate message arrives,
// before the client has proved that it holds the key; a client that only
// knows the certificate can therefore delay the removal, never hasten it.
func (r *Receiver) LastSeen(ctx context.Context, leaf *x509.Certificate) (time.Time, error) {
	if leaf == nil {
		return time.Time{}, errors.New("local: LastSeen: nil certificate")
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	return r.seen[sha256.Sum256(leaf.Raw)], nil
}

// maxSeen bounds the certificates [Receiver.LastSeen] remembers: any client
// can present any certificate, so an unbounded record would let one grow
// the receiver's memory without end. A certificate still presented is
// seen again and stays; what is forgotten is the least recently seen.
const maxSeen = 10_000

// observe records that a client presented the certificate whose DER is
// leaf, now. When maxSeen certificates are remembered, the least recently
// seen one makes room.
func (r *Receiver) observe(leaf []byte) {
	now := r.cfg.Now()
	key := sha256.Sum256(leaf)
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	if _, ok := r.seen[key]; !ok && len(r.seen) >= maxSeen {
		var oldest [sha256.Size]byte
		var at time.Time
		first := true
		for k, t := range r.seen {
			if first || t.Before(at) {
				oldest, at, first = k, t, false
			}
		}
		delete(r.seen, oldest)
	}
	r.seen[key] = now
}

// readCount returns how many times the receiver has read its files: once
// in [NewReceiver], then once per change it noticed.
func (r *Receiver) readCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloads
}

// snapshot is the receiver's configuration as read from its files at one
// moment, and the TLS configuration built from it.
type snapshot struct {
	trustStamp, acceptedStamp os.FileInfo
	roots, accepted           []*x509.Certificate
	// names are the DER subjects the server advertises in its
	// CertificateRequest, in order.
	names [][]byte
	tls   *tls.Config
}

// unchanged reports whether the files still are the ones s was read from:
// the same file (a rename replaces it), size and modification time.
func (s *snapshot) unchanged(trust, accepted os.FileInfo) bool {
	same := func(a, b os.FileInfo) bool {
		return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
	}
	return same(s.trustStamp, trust) && same(s.acceptedStamp, accepted)
}

// verify decides whether the configuration in s accepts chain c at now.
func (s *snapshot) verify(c []*x509.Certificate, now time.Time) error {
	cr := chain.Receiver{Roots: s.roots, Pinned: s.accepted, Time: now}
	_, err := cr.Verify(c)
	if len(s.accepted) == 0 {
		// chain.Receiver reads an empty Pinned as "no pinning"; for this
		// receiver an empty accepted list maps no certificate to the
		// technical user, so it accepts nobody.
		var verr *chain.VerifyError
		if err != nil && !errors.As(err, &verr) {
			return fmt.Errorf("%w: %w", ErrNotAccepted, err)
		}
		if verr == nil {
			verr = &chain.VerifyError{Chain: c, Path: c}
		}
		verr.Problems = append(verr.Problems, chain.Problem{Cert: c[0], Err: chain.ErrNotPinned,
			Detail: "the receiver's accepted list is empty, so no client certificate is mapped to the technical user"})
		err = verr
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotAccepted, err)
	}
	return nil
}

// current returns the configuration in the files now, rereading them if
// they changed since the last read.
func (r *Receiver) current() (*snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The files are stated before they are read, so a change racing with
	// the read makes the next call read again: the stamps never claim a
	// newer version than the contents.
	trust, err := os.Stat(r.cfg.Truststore)
	if err != nil {
		return nil, fmt.Errorf("local: receiver truststore: %w", err)
	}
	accepted, err := os.Stat(r.cfg.Accepted)
	if err != nil {
		return nil, fmt.Errorf("local: receiver accepted list: %w", err)
	}
	if r.snap != nil && r.snap.unchanged(trust, accepted) {
		return r.snap, nil
	}
	s := &snapshot{trustStamp: trust, acceptedStamp: accepted}
	if s.roots, err = r.readRoots(); err != nil {
		return nil, err
	}
	if s.accepted, err = readCertList(r.cfg.Accepted); err != nil {
		return nil, err
	}
	r.snap = r.withAdvertised(s)
	r.reloads++
	return s, nil
}

// withAdvertised sets the names s advertises, by r.advertise, and builds
// its TLS configuration. The caller holds r.mu.
func (r *Receiver) withAdvertised(s *snapshot) *snapshot {
	adv := s.roots
	if r.advertise != nil {
		adv = r.advertise
	}
	s.names = make([][]byte, 0, len(adv))
	for _, c := range adv {
		s.names = append(s.names, c.RawSubject)
	}
	s.tls = r.tlsConfig(s, adv)
	return s
}

// advertised returns the DER names the server advertises now: the
// subjects of the trusted roots, or of those [Receiver.AdvertiseOnly]
// named.
func (r *Receiver) advertised() ([][]byte, error) {
	s, err := r.current()
	if err != nil {
		return nil, err
	}
	return s.names, nil
}

// AdvertiseOnly makes the receiver's server advertise, in the
// CertificateRequest of every later handshake, the names of roots only,
// while it goes on verifying client certificates against every trusted
// root: the state of HAProxy 2.6 after a new root was added through its
// runtime API (set ssl ca-file, commit ssl ca-file), which verifies the
// new root but keeps advertising the old names until it is reloaded. A
// client that picks its certificate by the advertised names, as Java's and
// [Runtime]'s nodes do, then sends none if it holds only a certificate
// issued under a root not named, and fails; [Receiver.Probe] reports it.
// The roots are advertised as given, trusted or not.
//
// AdvertiseOnly with no roots ends the restriction: the server advertises
// every trusted root again, as a reloaded HAProxy does, from the next
// handshake on, without a restart of the receiver or of the nodes. The
// setting is kept in memory (not in the files) and survives
// [Receiver.Close] and [Receiver.Start]. It returns an error, and changes
// nothing, if a root is nil or the files cannot be read.
func (r *Receiver) AdvertiseOnly(roots ...*x509.Certificate) error {
	var adv []*x509.Certificate
	if len(roots) > 0 {
		adv = make([]*x509.Certificate, 0, len(roots))
		for i, c := range roots {
			if c == nil {
				return fmt.Errorf("local: AdvertiseOnly: root %d is nil; want the roots whose names the server advertises", i+1)
			}
			if indexOf(adv, c) < 0 {
				adv = append(adv, c)
			}
		}
	}
	s, err := r.current()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advertise = adv
	if r.snap == s || r.snap == nil {
		// The same files: a new snapshot of them with the new names, so
		// that handshakes under way keep the configuration they took.
		ns := &snapshot{trustStamp: s.trustStamp, acceptedStamp: s.acceptedStamp, roots: s.roots, accepted: s.accepted}
		r.snap = r.withAdvertised(ns)
	} else {
		// The files changed meanwhile: the next read applies the setting.
		r.snap = nil
	}
	return nil
}

// readRoots reads the trusted roots from the truststore.
func (r *Receiver) readRoots() ([]*x509.Certificate, error) {
	if r.cfg.TruststoreKind == truststore.PEMBundle {
		return readCertList(r.cfg.Truststore)
	}
	s, err := keystore.Open(r.cfg.Truststore, r.cfg.TruststorePassword, &r.keystoreOptions().StoreOptions)
	if err != nil {
		return nil, err
	}
	roots, _, err := trustedEntries(s)
	return roots, err
}

// trustedEntries returns the certificates of s's trusted-certificate
// entries and their aliases. Key entries are not trust anchors here.
func trustedEntries(s *keystore.Store) ([]*x509.Certificate, []string, error) {
	var certs []*x509.Certificate
	var aliases []string
	for _, a := range s.Aliases() {
		if k, err := s.Kind(a); err != nil || k != keystore.TrustedEntry {
			continue
		}
		cs, err := s.Certificates(a)
		if err != nil {
			return nil, nil, err
		}
		if len(cs) == 1 {
			certs = append(certs, cs[0])
			aliases = append(aliases, a)
		}
	}
	return certs, aliases, nil
}

// trustAlias returns a free alias for root in s; see [Receiver.TrustRoot].
func trustAlias(s *keystore.Store, root *x509.Certificate) string {
	name := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.':
			return c
		case c >= 'A' && c <= 'Z':
			return c + 'a' - 'A'
		}
		return '-'
	}, root.Subject.CommonName)
	name = strings.Trim(name, "-.")
	if len(name) > 48 {
		name = strings.TrimRight(name[:48], "-.")
	}
	if name == "" {
		name = "root"
	}
	alias := name + "-" + keystore.CertFingerprint(root).Hex()[:12]
	for i := 2; ; i++ {
		if _, err := s.Kind(alias); err != nil { // no entry has it
			break
		}
		alias = fmt.Sprintf("%s-%s-%d", name, keystore.CertFingerprint(root).Hex()[:12], i)
	}
	return alias
}

// remove returns certs without c (compared byte for byte) and whether
// anything was removed.
func remove(certs []*x509.Certificate, c *x509.Certificate) ([]*x509.Certificate, bool) {
	out := certs[:0:0]
	for _, x := range certs {
		if !bytes.Equal(x.Raw, c.Raw) {
			out = append(out, x)
		}
	}
	return out, len(out) != len(certs)
}
