// Package handoff is a [renewal.CA] for a CA that answers later: a
// portal, an e-mail address, a colleague with the CA's key. Its Sign
// writes the certificate request into a hand-over folder and returns an
// error that says where the reply goes; the renewal executor stops
// cleanly there (step 1 and the run are [renewal.StatusWaiting]) and the
// notifier tells the tenant administrator. The next run with the same
// journal finds the reply and goes on.
//
// # Usage
//
//	ca := &handoff.CA{Dir: "/srv/tenant/handover"}
//	x := &renewal.Executor{Plan: plan, Tenant: tenant, Journal: journal,
//		CA: ca, Receiver: rcv, Runtime: rt, Notifier: nt}
//	res, err := x.Run(ctx)
//	var w *renewal.AwaitingReplyError
//	if errors.As(err, &w) {
//		// res.State is renewal.StatusWaiting: send w.Request to the CA,
//		// put its reply at w.Reply, and run again (from cron, by hand).
//	}
//
// Step by step:
//
//  1. The first run stages a new key in the tenant's staging store, writes
//     the request for it as Dir/renewal-<key>.csr (PEM, mode 0644: a
//     request holds no secret) and stops, waiting; <key> is the first 16
//     hex digits of the new public key's SHA-256, so one folder can serve
//     several renewals.
//  2. The tenant administrator sends the .csr file to the CA, for example:
//     openssl x509 -req -in renewal-<key>.csr -CA ca.pem -CAkey ca.key
//     -days 365 -out reply.pem on the CA's side.
//  3. The reply is put beside the request as Dir/renewal-<key>.reply: PEM,
//     DER or PKCS#7 (.p7b), the certificates in any order, whatever the CA
//     sends. Write it under another name and rename it, so that a run never
//     reads half a file.
//  4. The next run (the same Executor.Journal) reuses the staged key (no
//     key is made twice), reads the reply, checks that it is for that key
//     and reaches the plan's new root, installs it on the staged key and
//     goes on with the renewal. Without a reply it says again that it is
//     waiting and changes nothing.
//
// A reply that is not for the staged key (an answer to another request)
// is refused with a [*ReplyError] before anything is installed: replace it
// with the answer to the request in the folder and run again.
//
// # Security
//
// Only the request and the reply pass through the folder; the private key
// stays in the tenant's staging store. Anyone who can write the folder can
// put a reply there, so the reply is checked: its leaf must carry the
// staged key, and the executor installs it only if its chain reaches the
// plan's new root, whose fingerprint the runbook prints for people to
// compare.
package handoff

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// maxReply bounds the reply read back: a chain of a few certificates is
// kilobytes; 1 MiB keeps a wrong file (a log, an archive) from costing
// memory.
const maxReply = 1 << 20

// CA is a [renewal.CA] whose requests and replies are carried by people
// through a hand-over folder. Dir is required; the zero value of Pool is
// documented. A CA holds no state of its own beyond the folder, so a new
// process with the same Dir finds the request and reply of an earlier one.
type CA struct {
	// Dir is the hand-over folder: the request is written there and the
	// reply is expected there. It must exist.
	Dir string
	// Pool holds the CA's intermediates and root, for a CA that sends the
	// certificate alone. Nil means the reply must hold its chain up to
	// the root.
	Pool []*x509.Certificate
}

var (
	_ renewal.CA         = (*CA)(nil)
	_ renewal.Instructor = (*CA)(nil)
)

// ReplyError reports a reply in the hand-over folder that cannot be used:
// unreadable, not certificates, not for the request's key, or not
// reaching a root. Nothing is installed; the request stays where it was.
type ReplyError struct {
	// Path is the reply's path, Request the request's.
	Path, Request string
	// Problem says what was expected and what was found.
	Problem string
	// Err is the underlying error, if any.
	Err error
}

// Error says what is wrong with the reply and what to do.
func (e *ReplyError) Error() string {
	// The underlying error comes before the advice, so that the message
	// ends with what to do.
	problem := e.Problem
	if e.Err != nil {
		problem += ": " + e.Err.Error()
	}
	return fmt.Sprintf("handoff: the reply %q cannot be used: %s; replace it with the CA's reply to the request %q and run again", e.Path, problem, e.Request)
}

// Unwrap returns Err.
func (e *ReplyError) Unwrap() error { return e.Err }

// paths returns the request's and the reply's path for a request for the
// key pub.
func (c *CA) paths(pub any) (request, reply string) {
	base := "renewal-" + keystore.KeyFingerprint(pub).Hex()[:16]
	return filepath.Join(c.Dir, base+".csr"), filepath.Join(c.Dir, base+".reply")
}

// Sign implements [renewal.CA]. If the reply to a request for csrPEM's
// key is in the folder, it returns its chain, leaf first, completed from
// Pool up to the root; a reply that cannot be used is a [*ReplyError].
// Otherwise it writes the request into the folder (unless a request for
// the same key is there already, which is left as it is: it may have been
// sent) and returns a [*renewal.AwaitingReplyError] naming the request and
// where the reply goes.
func (c *CA) Sign(ctx context.Context, csrPEM []byte) ([]*x509.Certificate, error) {
	if c.Dir == "" {
		return nil, errors.New("handoff: CA.Dir is empty: set it to the hand-over folder")
	}
	csr, err := keystore.ParseCSR(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("handoff: the request to hand over: %w", err)
	}
	request, reply := c.paths(csr.PublicKey)
	data, err := readBounded(reply)
	switch {
	case err == nil:
		return c.assemble(csr, request, reply, data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, &ReplyError{Path: reply, Request: request, Problem: "it cannot be read", Err: err}
	}
	if err := c.writeRequest(ctx, csr, request, csrPEM); err != nil {
		return nil, err
	}
	return nil, &renewal.AwaitingReplyError{Request: request, Reply: reply}
}

// writeRequest writes the request unless one for the same key is there.
func (c *CA) writeRequest(ctx context.Context, csr *x509.CertificateRequest, path string, csrPEM []byte) error {
	if old, err := readBounded(path); err == nil {
		if prev, err := keystore.ParseCSR(old); err == nil && keystore.KeyFingerprint(prev.PublicKey) == keystore.KeyFingerprint(csr.PublicKey) {
			return nil
		}
	}
	if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("handoff: the hand-over folder %q does not exist or is not a folder: create it (writable by this process, readable by whoever sends the request): %w", c.Dir, errNotDir(err))
	}
	// A request holds no secret: readable by whoever carries it.
	if err := atomicfile.Write(ctx, path, csrPEM, atomicfile.Options{Mode: 0o644}); err != nil {
		return fmt.Errorf("handoff: writing the request %q: %w", path, err)
	}
	return nil
}

func errNotDir(err error) error {
	if err != nil {
		return err
	}
	return fs.ErrInvalid
}

// assemble checks a reply and orders it leaf first, up to the root.
func (c *CA) assemble(csr *x509.CertificateRequest, request, reply string, data []byte) ([]*x509.Certificate, error) {
	bad := func(problem string, err error) error {
		return &ReplyError{Path: reply, Request: request, Problem: problem, Err: err}
	}
	certs, err := keystore.ParseCertificates(data)
	if err != nil {
		return nil, bad("expected certificates (PEM, DER or PKCS#7), found something else", err)
	}
	var leaf *x509.Certificate
	var rest []*x509.Certificate
	for _, cert := range certs {
		if leaf == nil && chain.KeyMatches(csr.PublicKey, cert) {
			leaf = cert
			continue
		}
		rest = append(rest, cert)
	}
	if leaf == nil {
		names := make([]string, len(certs))
		for i, cert := range certs {
			names[i] = chain.Name(cert)
		}
		return nil, bad(fmt.Sprintf("expected a certificate for the request's key (SHA-256 %s), found %d certificates for other keys (%s): it answers another request",
			keystore.KeyFingerprint(csr.PublicKey), len(certs), strings.Join(names, ", ")), nil)
	}
	path, anchor, err := chain.Complete([]*x509.Certificate{leaf}, append(rest, c.Pool...))
	if err != nil {
		return nil, bad("its chain does not reach a root (add the CA's intermediates and root to the reply, or to the certificates the CA was given to complete replies with)", err)
	}
	if anchor != nil && (len(path) == 0 || path[len(path)-1] != anchor) {
		path = append(path, anchor)
	}
	return path, nil
}

// readBounded reads a file of at most maxReply bytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReply+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxReply {
		return nil, fmt.Errorf("more than %d bytes: expected a certificate chain", maxReply)
	}
	return data, nil
}

// Instructions implements [renewal.Instructor]: for step 1 it says where
// the request is written and where the reply goes.
func (c *CA) Instructions(s renewal.Step) []string {
	if s.ID != renewal.StepGenerateKey {
		return nil
	}
	request, reply := filepath.Join(c.Dir, "renewal-<key>.csr"), filepath.Join(c.Dir, "renewal-<key>.reply")
	return []string{
		"# The renewal writes the certificate request as " + request + " (<key>: the first 16 hex digits of the new key's SHA-256) and stops, waiting for the CA's reply.",
		"# Send that request to the CA. Put its reply (PEM, DER or PKCS#7, in any order) beside it as " + reply + ", written under another name and then renamed:",
		"mv reply.tmp " + shellQuote(reply),
		"# Then run the renewal again with the same journal: it installs the reply on the staged key and goes on.",
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
