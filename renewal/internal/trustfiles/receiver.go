package trustfiles

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"time"

	"github.com/certroll/certroll/renewal/probe"
)

// Receiver is the body of the renewal.Receiver, ReceiverInspector,
// UsageObserver and Prober methods that the nginx, haproxy and command
// receivers share: each of theirs is a thin wrapper that keeps its
// package's documentation, and builds one from its Config at each call.
// Its messages start with Files.Prefix. It is safe for concurrent use when
// Files is.
type Receiver struct {
	// Files are the receiver's trust file and list.
	Files *Files

	// AccessLog is the log LastSeen reads, written with LogFormat (which
	// its errors describe).
	AccessLog, LogFormat string
	// NoAccessLog, if not nil, is what LastSeen returns when AccessLog is
	// empty; nil reads AccessLog even then (the caller has checked).
	NoAccessLog error

	// URL is where Probe connects, with ServerRoots and ServerName (see
	// probe.Options).
	URL         string
	ServerName  string
	ServerRoots *x509.CertPool
	// NoURL, if not nil, is what Probe returns when URL is empty.
	NoURL error
}

// TrustRoot adds root to the trust file and applies the edit.
func (r *Receiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	if root == nil {
		return errors.New(r.Files.Prefix + ": TrustRoot: want a root certificate, got nil")
	}
	r.Files.Remember(root)
	return r.Files.Apply(ctx, r.Files.TrustRootEdit(root))
}

// RemoveRoot removes root from the trust file and applies the edit.
func (r *Receiver) RemoveRoot(ctx context.Context, root *x509.Certificate) error {
	if root == nil {
		return errors.New(r.Files.Prefix + ": RemoveRoot: want a root certificate, got nil")
	}
	return r.Files.Apply(ctx, r.Files.RemoveRootEdit(root))
}

// AcceptClient adds chain's leaf to the list and applies the edit.
func (r *Receiver) AcceptClient(ctx context.Context, chain []*x509.Certificate) error {
	if len(chain) == 0 || chain[0] == nil {
		return errors.New(r.Files.Prefix + ": AcceptClient: want a chain, leaf first, got none")
	}
	r.Files.Remember(chain...)
	return r.Files.Apply(ctx, r.Files.AcceptEdit(chain[0]))
}

// RemoveClient removes leaf's entries from the list and applies the edit.
func (r *Receiver) RemoveClient(ctx context.Context, leaf *x509.Certificate) error {
	if leaf == nil {
		return errors.New(r.Files.Prefix + ": RemoveClient: want a certificate, got nil")
	}
	r.Files.Remember(leaf)
	return r.Files.Apply(ctx, r.Files.RemoveClientEdit(leaf))
}

// Accepts is [Files.Accepts], unless ctx is done.
func (r *Receiver) Accepts(ctx context.Context, chain []*x509.Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.Files.Accepts(chain)
}

// LastSeen is [LastSeen] on AccessLog, after checking leaf, ctx and (with
// NoAccessLog) that there is a log.
func (r *Receiver) LastSeen(ctx context.Context, leaf *x509.Certificate) (time.Time, error) {
	if leaf == nil {
		return time.Time{}, errors.New(r.Files.Prefix + ": LastSeen: want a certificate, got nil")
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if r.AccessLog == "" && r.NoAccessLog != nil {
		return time.Time{}, r.NoAccessLog
	}
	return LastSeen(r.Files.Prefix, r.AccessLog, r.LogFormat, leaf)
}

// ProbeOptions returns the options for probing URL: ServerRoots and
// ServerName.
func (r *Receiver) ProbeOptions() *probe.Options {
	return &probe.Options{Roots: r.ServerRoots, ServerName: r.ServerName}
}

// Probe connects to URL presenting chain (leaf first) with key and
// expecting the name of the chain's last certificate: see probe.Probe.
func (r *Receiver) Probe(ctx context.Context, chain []*x509.Certificate, key crypto.Signer) error {
	if r.URL == "" && r.NoURL != nil {
		return r.NoURL
	}
	if len(chain) == 0 || chain[0] == nil {
		return errors.New(r.Files.Prefix + ": Probe: want a chain, leaf first, got none")
	}
	opts := r.ProbeOptions()
	opts.Root = chain[len(chain)-1]
	_, err := probe.Probe(ctx, r.URL, chain, key, opts)
	return err
}
