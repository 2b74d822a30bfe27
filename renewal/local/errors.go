package local

import "errors"

// Sentinel errors that callers branch on with [errors.Is].
var (
	// ErrNotAccepted reports that a [Receiver] does not accept a client
	// chain. The error that wraps it also wraps the [*chain.VerifyError]
	// that lists every problem, so that errors.Is finds the reasons'
	// sentinels too (such as chain.ErrNotPinned or chain.ErrUnknownAuthority).
	ErrNotAccepted = errors.New("local: client chain not accepted")

	// ErrNodeStopped is the error recorded for a message that was due while
	// its node was stopped ([Failure.Err]).
	ErrNodeStopped = errors.New("local: node stopped, message processing failed")

	// ErrNoCertificate reports that a [Runtime] node had no client
	// certificate to offer: no key entry of the keystore it loaded has an
	// issuer among the CA names the receiver advertises, so the node sends
	// none, as a Java client does, and the receiver refuses the handshake.
	// [Failure.Err] and [Runtime.Presents] wrap it with the names
	// advertised and the entries held.
	ErrNoCertificate = errors.New("local: node presents no client certificate")

	// ErrNotConfirmed reports that a [Notifier] waited for a confirmation
	// that did not come in time.
	ErrNotConfirmed = errors.New("local: hand-off not confirmed")
)

// errUnknownNode reports a node name the [Runtime] does not have; the
// error that wraps it lists the names it has. A caller takes the names
// from [Runtime.Nodes], so nobody branches on it.
var errUnknownNode = errors.New("local: unknown runtime node")
