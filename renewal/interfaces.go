package renewal

import (
	"context"
	"crypto"
	"crypto/x509"
	"time"
)

// CA is the certificate authority that signs the new client certificate:
// the "other CA" of a renewal.
type CA interface {
	// Sign issues a certificate for a PEM certificate request and returns
	// the chain, leaf first, ending with the CA's root.
	Sign(ctx context.Context, csrPEM []byte) ([]*x509.Certificate, error)
}

// Receiver is the server that the runtime's client certificate
// authenticates to, as its administrator can configure it.
type Receiver interface {
	// TrustRoot makes the receiver trust root for client certificates.
	// Trusting a root it already trusts is not an error.
	TrustRoot(ctx context.Context, root *x509.Certificate) error
	// AcceptClient makes the receiver accept the client certificate that
	// chain (leaf first) presents, next to those it already accepts (for
	// example, maps it to the technical user). Accepting it again is not
	// an error.
	AcceptClient(ctx context.Context, chain []*x509.Certificate) error
	// RemoveClient makes the receiver stop accepting the client
	// certificate leaf. Removing one it does not accept is not an error.
	RemoveClient(ctx context.Context, leaf *x509.Certificate) error
	// RemoveRoot makes the receiver stop trusting root. Removing a root it
	// does not trust is not an error.
	RemoveRoot(ctx context.Context, root *x509.Certificate) error
	// Accepts returns nil if the receiver would accept a client presenting
	// chain now, or an error saying why not.
	Accepts(ctx context.Context, chain []*x509.Certificate) error
}

// Runtime is the tenant's runtime: the nodes whose HTTPS clients present
// the client certificate from the keystore. A node's client caches the
// keystore until the node is restarted, as the runtime's SSL socket caches
// it for 24 hours.
type Runtime interface {
	// Nodes lists the runtime's nodes.
	Nodes(ctx context.Context) ([]string, error)
	// Stop stops the flow on node; stopping a stopped node is not an error.
	Stop(ctx context.Context, node string) error
	// Start starts the flow on node, reading the keystore afresh; starting
	// a running node is not an error.
	Start(ctx context.Context, node string) error
	// Restart stops and starts the flow on node.
	Restart(ctx context.Context, node string) error
	// Presents returns the client certificate node presents now, or nil if
	// the node is stopped.
	Presents(ctx context.Context, node string) (*x509.Certificate, error)
}

// Notifier carries hand-offs between the people involved: a message to a
// role, and, where the plan needs it, that role's confirmation.
type Notifier interface {
	// HandOff tells step.To what step says, with message. If wait is
	// non-zero the notifier waits up to wait for the role's confirmation
	// and returns an error if it does not come; with zero wait it returns
	// once the message is delivered.
	HandOff(ctx context.Context, step Step, message string, wait time.Duration) error
}

// UsageObserver is an optional interface of a [Receiver] that watches the
// client certificates presented to it: the embedded receiver records every
// handshake, and a real receiver can answer from its access log. The gate
// before the old certificate and the old root are removed asks it, so that
// requests still in flight with the old certificate (from a node restarted
// moments ago, or a client nobody declared) are not cut off: the gate
// passes only when the receiver has seen no handshake presenting the old
// certificate for [Executor.Drain].
type UsageObserver interface {
	// LastSeen returns when the receiver last saw a client present the
	// certificate leaf in a handshake, successful or not. The zero time
	// means it has not seen one since it started observing.
	LastSeen(ctx context.Context, leaf *x509.Certificate) (time.Time, error)
}

// Prober is an optional interface of a [Receiver] that the executor can
// reach over the network, as a real reverse proxy is. A receiver's files
// can say it trusts a root while the running server does not, or trusts it
// without advertising its name in the TLS CertificateRequest, so that a
// Java client (whose default key manager presents only a certificate whose
// issuer the server names) sends no certificate. [Receiver.Accepts] stays
// the fast first answer, from the files; the gates that decide whether the
// receiver accepts a chain then ask Probe, which is the verdict.
type Prober interface {
	// Probe connects to the receiver presenting chain (leaf first) with
	// key, and returns nil only if the handshake succeeds, the receiver
	// answers with a status that is not a refusal, and the server
	// advertises a name that makes a Java client choose chain; otherwise
	// an error saying which of these went wrong (package renewal/probe).
	Probe(ctx context.Context, chain []*x509.Certificate, key crypto.Signer) error
}

// Instructor is an optional interface of a [CA], [Receiver] or [Runtime]
// (or a notifier, or anything else given to [Plan.Markdown]) that can say
// how a person does the adapter's part of a step by hand: the runbook
// prints its lines under the step. The adapters of package renewal/command
// return their own commands (the signing command with the request's path,
// each node's restart command), and package renewal/handoff where the
// request and the reply go.
//
// A receiver returns, for the steps that configure it
// ([StepReceiverAcceptBoth], [StepReceiverSwap], [StepRemoveOld]), the
// files to edit with the lines to add or remove (the client-CA bundle and
// the pinning list, with the new root's and the client certificate's
// fingerprints) and its check and reload commands (nginx -t, then
// nginx -s reload), and for a step whose gate asks whether it accepts a
// chain ([GateReceiverAcceptsBoth], [GateReceiverAcceptsNew]) a command
// that checks it by presenting the chain, such as an openssl s_client line
// that also shows the acceptable CA names the server advertises.
type Instructor interface {
	// Instructions returns what a person runs by hand for step s, one
	// command a line, in order; a line starting with "#" explains rather
	// than runs. Nil means the adapter has nothing for s. It must not
	// block or change anything: the runbook is rendered from it.
	Instructions(s Step) []string
}
