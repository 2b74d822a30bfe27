// Package trustfiles is the shared core of the receivers that configure a
// real server through its files (renewal/nginx, renewal/haproxy,
// renewal/command): it edits a trust file (a PEM bundle, or a JKS or
// PKCS#12 truststore) and an accepted-certificates list (an nginx map, an
// HAProxy ACL file, a list of SHA-256 fingerprints) through
// internal/atomicfile, runs the administrator's check command, rolls every
// edited file back if the check fails, and then reloads the server.
package trustfiles

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// Files names the files a receiver reads and the hooks that check and
// reload it.
type Files struct {
	// Prefix starts every message: the adapter's package name.
	Prefix string

	// Trust is the trust file: the roots trusted for client certificates.
	// Empty means the receiver has none (TrustRoot and RemoveRoot fail).
	Trust string
	// TrustKind is its kind: truststore.PEMBundle, JKS or PKCS12. It
	// decides the format of a file that does not exist yet.
	TrustKind truststore.Kind
	// TrustPassword protects a JKS or PKCS#12 trust file.
	TrustPassword []byte

	// List is the accepted-certificates list. Empty means the receiver
	// pins no client certificate (AcceptClient and RemoveClient do
	// nothing, and every chain to a trusted root is accepted).
	List string
	// ListFormat is its format.
	ListFormat ListFormat

	// Check, if not nil, runs after the files are edited and before the
	// reload; if it fails, every edited file is restored and Reload is not
	// called.
	Check func(ctx context.Context) error
	// Reload, if not nil, makes the server read the edited files. If it
	// fails, every edited file is restored and Reload is called again to
	// load them, unless its error is [ErrNotReloaded] (the server kept
	// its configuration). With a Reload, Apply keeps a reload-pending
	// marker beside the files (see [PendingSuffix]).
	Reload func(ctx context.Context) error

	// Now is the clock Accepts verifies at; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	seen map[string]*x509.Certificate // certificates handed in, by lower-case SHA-1 and SHA-256 hex
}

// Validate checks the configuration, naming the field that is wrong.
func (f *Files) Validate(cfg string) error {
	if f.Trust == "" && f.List == "" {
		return fmt.Errorf("%s: %s: want a trust file, an accepted-certificates list or both, got neither", f.Prefix, cfg)
	}
	if f.Trust != "" {
		switch f.TrustKind {
		case truststore.PEMBundle, truststore.JKS, truststore.PKCS12:
		default:
			return fmt.Errorf("%s: %s: trust file kind: want PEM bundle, JKS or PKCS#12, got %v", f.Prefix, cfg, f.TrustKind)
		}
	}
	if f.List != "" && !f.ListFormat.valid() {
		return fmt.Errorf("%s: %s: list format: want nginx map, HAProxy ACL or SHA-256 list, got %v", f.Prefix, cfg, f.ListFormat)
	}
	return nil
}

// remember keeps c so that an entry of the list with its digest only can
// be named by AcceptedClients.
func (f *Files) remember(certs ...*x509.Certificate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = make(map[string]*x509.Certificate)
	}
	for _, c := range certs {
		if c != nil {
			f.seen[sha1Hex(c)] = c
			f.seen[keystore.CertFingerprint(c).Hex()] = c
		}
	}
}

// Remember keeps certs so that list entries a person wrote (their digest
// only) can be named by [Files.AcceptedClients]: every certificate a
// receiver method is given is remembered.
func (f *Files) Remember(certs ...*x509.Certificate) { f.remember(certs...) }

func (f *Files) password() []byte {
	if f.TrustPassword == nil {
		return []byte{}
	}
	return f.TrustPassword
}

// readTrust parses the trust file's bytes (a missing file is an empty set).
func (f *Files) readTrust(data []byte, exists bool) (*truststore.Set, error) {
	if !exists {
		return truststore.New(f.TrustKind), nil
	}
	s, err := truststore.Parse(data, f.password())
	if err != nil {
		return nil, fmt.Errorf("%s: trust file %q: %w", f.Prefix, f.Trust, err)
	}
	return s, nil
}

func (f *Files) readList(data []byte) (*List, error) {
	l, err := ParseList(data, f.ListFormat)
	if err != nil {
		var le *ListError
		if errors.As(err, &le) {
			le.Path = f.List
		}
		return nil, fmt.Errorf("%s: accepted-certificates list: %w", f.Prefix, err)
	}
	return l, nil
}

func (f *Files) trustMode() fs.FileMode {
	if f.TrustKind == truststore.PEMBundle {
		return 0o644 // certificates are public
	}
	return 0o600
}

// Edit is one change: it reads and rewrites files through tx.
type Edit func(tx *Tx) error

// PendingSuffix ends the name of the reload-pending marker: the file
// <first file>.certroll-reload-pending (the first file is the trust file,
// else the list) that [Files.Apply] writes before it edits a file and
// removes once the server has reloaded. A marker left on disk means that
// the files may hold an edit the server has not loaded (the process was
// killed between the write and the reload, or the reload failed and so did
// the one after the restore): the next Apply checks and reloads even if it
// changes nothing. Removing the marker by hand is safe once the server has
// been reloaded. Its lock file (<marker>.lock, internal/atomicfile) stays:
// every Apply on these files, in any process, holds it.
const PendingSuffix = ".certroll-reload-pending"

// PendingMarker returns the path of the reload-pending marker (see
// [PendingSuffix]), or "" when no Reload is configured (a server that
// rereads its files by itself needs none).
func (f *Files) PendingMarker() string {
	if f.Reload == nil {
		return ""
	}
	first := f.Trust
	if first == "" {
		first = f.List
	}
	return first + PendingSuffix
}

// Apply makes the edits under one transaction, then, if any file changed
// or a reload is pending (see [PendingSuffix]), runs Check and Reload.
// Before the first file is written it writes the reload-pending marker,
// and it removes the marker after a successful reload.
//
// If an edit or the check fails, every file this call edited is restored
// byte for byte and the server is not reloaded: a *RolledBackError. If the
// reload fails (it may have been sent, and the server may run the edited
// files), the files are restored and the server is reloaded again to run
// them (unless the error is [ErrNotReloaded]: the server kept its
// configuration): a *RolledBackError when that reload succeeds, an
// *UnknownStateError (the marker stays) when it fails too. A pending
// reload whose check or reload fails is an *UnknownStateError too. Nothing
// changed and no reload pending means no check and no reload: the edits
// were already in place and loaded.
func (f *Files) Apply(ctx context.Context, edits ...Edit) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	marker := f.PendingMarker()
	pending := false
	var mlock *atomicfile.Locked
	if marker != "" {
		// The marker's lock serialises the Apply calls of every process on
		// these files, whichever files they edit.
		var err error
		if mlock, err = atomicfile.Lock(ctx, marker); err != nil {
			return fmt.Errorf("%s: reload-pending marker: %w", f.Prefix, err)
		}
		defer mlock.Unlock()
		switch _, err := os.Lstat(marker); {
		case err == nil:
			pending = true
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s: reload-pending marker: %w", f.Prefix, err)
		}
	}
	tx := Begin(ctx)
	defer tx.Close()
	wrote := false // whether this call wrote the marker
	if mlock != nil && !pending {
		tx.beforeWrite = func() error {
			if err := mlock.Write([]byte(markerText), atomicfile.Options{Mode: 0o644}); err != nil {
				return fmt.Errorf("%s: writing the reload-pending marker before the edit: %w", f.Prefix, err)
			}
			wrote = true
			return nil
		}
	}
	clearMarker := func() error {
		if !wrote && !pending {
			return nil
		}
		if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: removing the reload-pending marker: %w", f.Prefix, err)
		}
		_ = atomicfile.SyncDir(filepath.Dir(marker))
		return nil
	}
	fail := func(err error) error {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w; and restoring the files failed, so they hold the edit: %w", err, rerr)
		}
		if wrote {
			// The server never read the edit: it runs the restored files.
			if rerr := clearMarker(); rerr != nil {
				return fmt.Errorf("%w; and %w", err, rerr)
			}
		}
		return err
	}
	for _, e := range edits {
		if err := e(tx); err != nil {
			return fail(err)
		}
	}
	changed := tx.Changed()
	if !changed && !pending {
		return nil
	}
	if f.Check != nil {
		if err := f.Check(ctx); err != nil {
			if !changed {
				return &UnknownStateError{Prefix: f.Prefix, Marker: marker, Step: "check", Err: err}
			}
			return fail(&RolledBackError{Prefix: f.Prefix, Step: "check", Err: err})
		}
	}
	if f.Reload == nil {
		return nil
	}
	err := f.Reload(ctx)
	if err == nil {
		return clearMarker()
	}
	if !changed {
		return &UnknownStateError{Prefix: f.Prefix, Marker: marker, Step: "reload", Err: err}
	}
	if errors.Is(err, ErrNotReloaded) {
		// The server kept the configuration it ran: restoring the files
		// is enough.
		return fail(&RolledBackError{Prefix: f.Prefix, Step: "reload", Err: err})
	}
	if rerr := tx.Rollback(); rerr != nil {
		return &UnknownStateError{Prefix: f.Prefix, Marker: marker, Step: "reload", Err: err, RestoreErr: rerr}
	}
	// The reload may have been sent before it failed (its wait timed out,
	// say): the server may run the edited files. Reload the restored ones.
	if aerr := f.Reload(ctx); aerr != nil {
		return &UnknownStateError{Prefix: f.Prefix, Marker: marker, Step: "reload", Err: err, Restored: true, Again: aerr}
	}
	if cerr := clearMarker(); cerr != nil {
		return fmt.Errorf("%w; and %w", &RolledBackError{Prefix: f.Prefix, Step: "reload", Err: err}, cerr)
	}
	return &RolledBackError{Prefix: f.Prefix, Step: "reload", Err: err}
}

// ErrNotReloaded marks a reload error (see [NotReloaded]) after which the
// server is known to run the configuration it ran before: the reload was
// never sent, or the server refused it and kept its old workers.
var ErrNotReloaded = errors.New("the server did not take the reload")

// NotReloaded wraps err, a reload's failure, to say that the server kept
// its configuration ([ErrNotReloaded]): Apply then restores the files
// without reloading them again. nil stays nil.
func NotReloaded(err error) error {
	if err == nil {
		return nil
	}
	return &notReloaded{err}
}

type notReloaded struct{ err error }

func (e *notReloaded) Error() string        { return e.err.Error() }
func (e *notReloaded) Unwrap() error        { return e.err }
func (e *notReloaded) Is(target error) bool { return target == ErrNotReloaded }

// markerText is the content of the reload-pending marker.
const markerText = "certroll: the files beside this one were edited and the server may not have reloaded them;\n" +
	"certroll checks and reloads at its next call and then removes this file (or reload the server by hand and remove it).\n"

// RolledBackError reports that the check or the reload after an edit
// failed, and that the edited files were restored as they were (after a
// failed reload, and the server reloaded with them).
type RolledBackError struct {
	Prefix string // the adapter's package name
	Step   string // "check" or "reload"
	Err    error  // why it failed (often a *CommandError)
}

// Error says what failed and that nothing was kept.
func (e *RolledBackError) Error() string {
	what := "the configuration check failed, so the server was not reloaded,"
	if e.Step == "reload" {
		what = "the reload failed, the server was reloaded again after the restore,"
	}
	return fmt.Sprintf("%s: %s and the edited files were restored byte for byte; fix the cause and run the step again: %v", e.Prefix, what, e.Err)
}

// Unwrap returns the cause.
func (e *RolledBackError) Unwrap() error { return e.Err }

// UnknownStateError reports that the server may not run what its files
// say: a reload failed after an edit and the reload of the restored files
// failed too (or restoring them did), or an earlier edit's reload is still
// pending and its check or reload failed. The reload-pending marker stays,
// so the next call checks and reloads again.
type UnknownStateError struct {
	Prefix     string // the adapter's package name
	Marker     string // the reload-pending marker left beside the files
	Step       string // "check" or "reload": what failed first
	Err        error  // why it failed
	Restored   bool   // whether this call's edit was restored
	RestoreErr error  // why restoring the files failed, if it did
	Again      error  // why the reload of the restored files failed, if it did
}

// Error says what failed, what the files hold and what to do.
func (e *UnknownStateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the server's state is unknown: the %s failed (%v)", e.Prefix, e.Step, e.Err)
	switch {
	case e.RestoreErr != nil:
		fmt.Fprintf(&b, ", and restoring the edited files failed, so they hold the edit (%v)", e.RestoreErr)
	case e.Again != nil:
		fmt.Fprintf(&b, "; the edited files were restored byte for byte, but the reload of the restored files failed too (%v)", e.Again)
	default:
		b.WriteString(" for an earlier edit that the server may not have loaded")
	}
	fmt.Fprintf(&b, "; %q stays, so the next call checks and reloads again: fix the cause (see the server's log) and run the step again", e.Marker)
	return b.String()
}

// Unwrap returns the causes.
func (e *UnknownStateError) Unwrap() []error {
	out := []error{e.Err}
	for _, err := range []error{e.RestoreErr, e.Again} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// TrustRootEdit adds root to the trust file. To a PEM bundle it appends
// the root's block after a comment line "# certroll: added ...", keeping
// every byte of the file (the administrator's comments and order
// included); a JKS or PKCS#12 file is rewritten.
func (f *Files) TrustRootEdit(root *x509.Certificate) Edit {
	return f.trustEdit(root, pemAdd, func(s *truststore.Set) (bool, error) {
		if s.ContainsCert(root) {
			return false, nil
		}
		_, err := s.Merge(truststore.Certs(root), nil)
		return err == nil, err
	})
}

// RemoveRootEdit removes root from the trust file. From a PEM bundle it
// cuts the bytes of the root's blocks only (and the "# certroll: added"
// line before one), so that adding a root and removing it gives back the
// file byte for byte (for a file that ends with a newline: one that does
// not gets one before the added block).
func (f *Files) RemoveRootEdit(root *x509.Certificate) Edit {
	return f.trustEdit(root, pemRemove, func(s *truststore.Set) (bool, error) {
		if !s.ContainsCert(root) {
			return false, nil
		}
		// The executor's gates decide whether the root is still in use; the
		// receiver's file has no keystores to check against.
		_, err := s.Prune(truststore.ByFingerprint(keystore.CertFingerprint(root)), &truststore.PruneOptions{NothingInUse: true})
		return err == nil, err
	})
}

// trustEdit reads the trust file, lets fn change the set, and writes it
// back only if fn reports a change (a PKCS#12 file is encrypted with fresh
// salts at every marshal, so comparing bytes would not tell). A PEM bundle
// that exists is edited as bytes by pemFn instead, when the result parses
// to the set fn makes; else it is marshalled.
func (f *Files) trustEdit(root *x509.Certificate, pemFn func([]byte, *x509.Certificate) []byte, fn func(*truststore.Set) (bool, error)) Edit {
	return func(tx *Tx) error {
		if f.Trust == "" {
			return fmt.Errorf("%s: no trust file is configured: name the file of roots the server trusts for client certificates", f.Prefix)
		}
		data, exists, err := tx.Read(f.Trust)
		if err != nil {
			return fmt.Errorf("%s: trust file: %w", f.Prefix, err)
		}
		s, err := f.readTrust(data, exists)
		if err != nil {
			return err
		}
		changed, err := fn(s)
		if err != nil {
			return fmt.Errorf("%s: trust file %q: %w", f.Prefix, f.Trust, err)
		}
		if !changed {
			return nil // keep the file's own bytes
		}
		var after []byte
		if f.TrustKind == truststore.PEMBundle && exists && s.Kind() == truststore.PEMBundle {
			after = pemFn(data, root)
			if !sameCerts(f, after, s) {
				after = nil
			}
		}
		if after == nil {
			if after, err = s.Marshal(f.password()); err != nil {
				return fmt.Errorf("%s: trust file %q: %w", f.Prefix, f.Trust, err)
			}
		}
		if _, err := tx.Write(f.Trust, after, f.trustMode()); err != nil {
			return fmt.Errorf("%s: trust file: %w", f.Prefix, err)
		}
		return nil
	}
}

// AcceptEdit adds an entry for leaf to the list.
func (f *Files) AcceptEdit(leaf *x509.Certificate) Edit {
	return f.listEdit(func(l *List) bool { return l.Add(leaf) })
}

// RemoveClientEdit removes the entries for leaf from the list.
func (f *Files) RemoveClientEdit(leaf *x509.Certificate) Edit {
	return f.listEdit(func(l *List) bool { return l.Remove(leaf) })
}

func (f *Files) listEdit(fn func(*List) bool) Edit {
	return func(tx *Tx) error {
		if f.List == "" {
			return nil
		}
		data, _, err := tx.Read(f.List)
		if err != nil {
			return fmt.Errorf("%s: accepted-certificates list: %w", f.Prefix, err)
		}
		l, err := f.readList(data)
		if err != nil {
			return err
		}
		if !fn(l) {
			return nil
		}
		if _, err := tx.Write(f.List, l.Marshal(), 0o644); err != nil {
			return fmt.Errorf("%s: accepted-certificates list: %w", f.Prefix, err)
		}
		return nil
	}
}

// Roots returns the roots of the trust file (none if it does not exist).
func (f *Files) Roots() ([]*x509.Certificate, error) {
	if f.Trust == "" {
		return nil, nil
	}
	data, err := os.ReadFile(f.Trust)
	exists := true
	if errors.Is(err, fs.ErrNotExist) {
		exists, err = false, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: trust file: %w", f.Prefix, err)
	}
	s, err := f.readTrust(data, exists)
	if err != nil {
		return nil, err
	}
	return s.Certificates(), nil
}

// ReadList reads the accepted-certificates list (empty if it does not exist).
func (f *Files) ReadList() (*List, error) {
	if f.List == "" {
		return &List{format: f.ListFormat}, nil
	}
	data, err := os.ReadFile(f.List)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: accepted-certificates list: %w", f.Prefix, err)
	}
	return f.readList(data)
}

// AcceptedClients returns the certificates the list accepts: those whose
// certificate block it carries, and those of its digest-only entries that
// a receiver method was given (see [Files.Remember]). An entry a person
// wrote for a certificate never handed to the receiver cannot be named and
// is left out.
func (f *Files) AcceptedClients() ([]*x509.Certificate, error) {
	l, err := f.ReadList()
	if err != nil {
		return nil, err
	}
	out := l.Certificates()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range l.items {
		if it.digest == "" || it.cert != nil {
			continue
		}
		if c, ok := f.seen[it.digest]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// NotAcceptedError says why the files would refuse a chain.
type NotAcceptedError struct {
	Prefix string
	Chain  string // chain.Path of the chain
	Reason string
}

// Error names the chain and the reason.
func (e *NotAcceptedError) Error() string {
	return fmt.Sprintf("%s: the server's files refuse the chain %s: %s", e.Prefix, e.Chain, e.Reason)
}

// Accepts checks chain (leaf first) against the files: it must verify for
// client authentication to a root of the trust file at the clock, and its
// leaf must be in the list (when a list is configured). It is the model's
// answer, not the server's.
func (f *Files) Accepts(certs []*x509.Certificate) error {
	if len(certs) == 0 || certs[0] == nil {
		return fmt.Errorf("%s: Accepts: want a chain, leaf first, got none", f.Prefix)
	}
	f.remember(certs...)
	refuse := func(format string, args ...any) error {
		return &NotAcceptedError{Prefix: f.Prefix, Chain: chain.Path(certs), Reason: fmt.Sprintf(format, args...)}
	}
	if f.Trust != "" {
		roots, err := f.Roots()
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		for _, r := range roots {
			pool.AddCert(r)
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		now := time.Now
		if f.Now != nil {
			now = f.Now
		}
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return refuse("it does not verify to a root of the trust file %q (%d roots): %v", f.Trust, len(roots), err)
		}
	}
	if f.List != "" {
		l, err := f.ReadList()
		if err != nil {
			return err
		}
		if !l.Contains(certs[0]) {
			return refuse("its leaf is not in the accepted-certificates list %q (want the line %q)", f.List, f.ListFormat.Key(certs[0]))
		}
	}
	return nil
}

// pemComment starts the line certroll writes before a block it appends.
const pemComment = "# certroll: added "

// pemAdd appends root's block to a PEM bundle's bytes after a comment line
// naming it, keeping every byte before.
func pemAdd(data []byte, root *x509.Certificate) []byte {
	out := bytes.Clone(data)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, pemCommentLine(root)...)
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw})...)
}

func pemCommentLine(root *x509.Certificate) string {
	return pemComment + strconv.Quote(root.Subject.String()) + " SHA-256 " + keystore.CertFingerprint(root).Hex() + "\n"
}

// pemRemove cuts from a PEM bundle's bytes every block holding root (up to
// and with the end of its END line), and the comment line pemAdd wrote
// before it; every other byte stays.
func pemRemove(data []byte, root *x509.Certificate) []byte {
	var out []byte
	rest := data
	for {
		blk, r := pem.Decode(rest)
		if blk == nil {
			return append(out, rest...)
		}
		chunk := rest[:len(rest)-len(r)]
		start := bytes.LastIndex(chunk, []byte("-----BEGIN "))
		if start < 0 || blk.Type != "CERTIFICATE" || !bytes.Equal(blk.Bytes, root.Raw) {
			out = append(out, chunk...)
			rest = r
			continue
		}
		before := chunk[:start]
		if c := []byte(pemCommentLine(root)); bytes.HasSuffix(before, c) {
			before = before[:len(before)-len(c)]
		}
		out = append(out, before...)
		rest = r
	}
}

// sameCerts reports whether data parses as a PEM bundle to the
// certificates of want, in any order.
func sameCerts(f *Files, data []byte, want *truststore.Set) bool {
	got, err := truststore.Parse(data, f.password())
	if err != nil || got.Kind() != truststore.PEMBundle {
		return false
	}
	g, w := got.Certificates(), want.Certificates()
	if len(g) != len(w) {
		return false
	}
	for _, c := range w {
		if !got.ContainsCert(c) {
			return false
		}
	}
	return true
}
