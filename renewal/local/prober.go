package local

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/certroll/certroll/renewal/probe"
)

// Probe asks the receiver's running server whether it accepts a client
// presenting certs (leaf first) with key, through a real handshake with
// [probe.Probe] at the receiver's URL, verifying the server by the root of
// its own server certificate. It returns nil only if the handshake
// succeeds, the server answers 200 (it refuses a client in the handshake,
// so a refusing status does not occur), and the server advertises a name
// under which a Java client, or a [Runtime] node, would choose certs: an
// issuer of one of its certificates. Otherwise the error wraps the
// *[probe.Error] that says which of these went wrong; it names the root
// whose name is missing when the receiver trusts a root but does not
// advertise it ([Receiver.AdvertiseOnly]). It implements
// [renewal.Prober], so that the executor's gates decide by a handshake on
// the embedded landscape too.
//
// A receiver whose server was never started ([Receiver.Start]) is its
// files only, as in tests and examples of the executor: there is no
// server a client could meet, and Probe answers as [Receiver.Accepts]
// does, from the files (nil for a chain they accept, their refusal
// otherwise), so that a check that the old chain is refused holds there
// too. A receiver that was started and is no longer running (closed, or
// its server ended) fails every probe: a server that stopped during a
// renewal accepts nobody, and a check must not pass because nothing
// answered. The probe's handshake counts for [Receiver.LastSeen] like any
// other, and the server's certificate is checked by the wall clock, so a
// [ReceiverConfig.Now] more than a minute ahead of it makes every probe
// fail.
func (r *Receiver) Probe(ctx context.Context, certs []*x509.Certificate, key crypto.Signer) error {
	url, started := r.probeTarget()
	switch {
	case url == "" && started:
		return errors.New("local: probing the receiver: its server was started and is not running (closed, or it ended): no handshake can succeed; start it again with Receiver.Start")
	case url == "":
		// Files only: no server a client could meet, so the files are
		// the answer.
		if err := r.Accepts(ctx, certs); err != nil {
			return fmt.Errorf("local: probing the receiver (files only, its server was never started): %w", err)
		}
		return nil
	}
	roots := x509.NewCertPool()
	roots.AddCert(r.server.Root)
	if _, err := probe.Probe(ctx, url, certs, key, &probe.Options{Roots: roots}); err != nil {
		return fmt.Errorf("local: probing the receiver: %w", err)
	}
	return nil
}
