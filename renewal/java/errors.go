package java

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownNode reports a node name the runtime does not have.
// [*UnknownNodeError] matches it with [errors.Is].
var ErrUnknownNode = errors.New("java: unknown node")

// ErrNoCertificate reports that a running node presented no client
// certificate. [*NoCertificateError] matches it with [errors.Is].
var ErrNoCertificate = errors.New("java: the node presented no client certificate")

// A ConfigError reports a [Config] field that cannot work.
type ConfigError struct {
	// Field names the field, such as "Keystore".
	Field string
	// Problem says what is wrong and what to do.
	Problem string
}

// Error says what went wrong and what to do.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("java: Config.%s: %s", e.Field, e.Problem)
}

// An UnknownNodeError reports a node name the runtime does not have.
type UnknownNodeError struct {
	// Node is the name asked for.
	Node string
	// Nodes are the runtime's node names.
	Nodes []string
}

// Error says what went wrong and what to do.
func (e *UnknownNodeError) Error() string {
	return fmt.Sprintf("java: no node %q: the runtime's nodes are %s", e.Node, strings.Join(e.Nodes, ", "))
}

// Is reports whether target is [ErrUnknownNode].
func (e *UnknownNodeError) Is(target error) bool { return target == ErrUnknownNode }

// A StartError reports that a node's JVM did not come up: java could not
// be run, it exited before its ready line (a wrong password, an unreadable
// keystore), or the ready line did not come in time.
type StartError struct {
	// Node names the node.
	Node string
	// Reason says what happened, such as "exited with status 2 before it
	// was ready".
	Reason string
	// Fatal is the error the node reported on its own, if it did.
	Fatal string
	// Stderr is the start of what the JVM wrote on its standard error,
	// at most 64 KiB.
	Stderr string
	// Err is the underlying error, if any (from exec or the context).
	Err error
}

// Error says what went wrong and what to do.
func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "java: starting node %q: %s", e.Node, e.Reason)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Fatal != "" {
		fmt.Fprintf(&b, "; the node reported: %s", e.Fatal)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		fmt.Fprintf(&b, "; its standard error:\n%s", s)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *StartError) Unwrap() error { return e.Err }

// A NoCertificateError reports that a running node's last handshake that
// reached the server's certificate request presented no certificate: Java's
// default key manager found no key entry issued by any of the CA names the
// server advertised. The usual cause is a server that trusts the new root
// but does not advertise its name yet (HAProxy's runtime API); reloading
// the server so that it advertises the new root's name is the fix.
type NoCertificateError struct {
	// Node names the node.
	Node string
	// Advertised are the CA names (RFC 2253) the server advertised.
	Advertised []string
	// Issuers are the issuer names of the certificates in the node's
	// keystore, which matched none of Advertised.
	Issuers []string
	// Err is the request's error, such as the handshake failure.
	Err string
}

// Error says what went wrong and what to do.
func (e *NoCertificateError) Error() string {
	adv := "no CA names"
	if len(e.Advertised) > 0 {
		adv = "only " + quoteAll(e.Advertised)
	}
	msg := fmt.Sprintf("java: node %q presented no client certificate: the server advertised %s, and the keystore's certificates are issued by %s; make the server advertise the issuer's name (for HAProxy, reload it rather than set the CA file through the runtime API)",
		e.Node, adv, quoteAll(e.Issuers))
	if e.Err != "" {
		msg += "; the request failed with: " + e.Err
	}
	return msg
}

// Is reports whether target is [ErrNoCertificate].
func (e *NoCertificateError) Is(target error) bool { return target == ErrNoCertificate }

// A NoReportError reports that a running node has not reached the server's
// certificate request since it started, so what it presents is not known
// yet: the server is down, unreachable, or does not ask for a client
// certificate.
type NoReportError struct {
	// Node names the node.
	Node string
	// Requests is how many requests the node made since it started.
	Requests int
	// LastError is the last request's error, if any.
	LastError string
	// Err is why the wait ended (the context's error or
	// context.DeadlineExceeded after [Config.ReportTimeout]).
	Err error
}

// Error says what went wrong and what to do.
func (e *NoReportError) Error() string {
	msg := fmt.Sprintf("java: node %q has not been asked for a client certificate in %d requests since it started", e.Node, e.Requests)
	if e.LastError != "" {
		msg += "; its last request failed with: " + e.LastError
	}
	if e.Err != nil {
		msg += fmt.Sprintf(" (%v)", e.Err)
	}
	return msg + "; check that the server runs at the URL and asks for client certificates"
}

// Unwrap returns Err.
func (e *NoReportError) Unwrap() error { return e.Err }

func quoteAll(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
