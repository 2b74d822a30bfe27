package renewal

import (
	"context"
	"crypto/x509"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handPinReceiver is a receiver whose inspector cannot name one
// certificate it accepts: the file-based receivers' view of a pin line a
// person wrote (a fingerprint, no certificate) in a process that has not
// been handed that certificate.
type handPinReceiver struct {
	*fakeReceiver
	unnamed *x509.Certificate
}

func (h *handPinReceiver) AcceptedClients() ([]*x509.Certificate, error) {
	acc, err := h.fakeReceiver.AcceptedClients()
	return slices.DeleteFunc(acc, func(c *x509.Certificate) bool { return sameCert(c, h.unnamed) }), err
}

// TestRemovalNotSkippedForUnnamedPin: the inspector says the old
// certificate is not accepted, but the receiver's files accept the old
// chain; the removal steps must still call RemoveClient, and the run end
// with a passing end-state check.
func TestRemovalNotSkippedForUnnamedPin(t *testing.T) {
	for _, seq := range []Sequence{SequenceOverlap, SequenceDowntime} {
		t.Run(string(seq), func(t *testing.T) {
			f := newFixture(t, seq)
			f.exec.Receiver = &handPinReceiver{fakeReceiver: f.rcv, unnamed: f.old.chain[0]}
			res, err := f.exec.Run(context.Background())
			require.NoError(t, err)
			assert.Equal(t, StatusDone, res.State)
			acc, err := f.rcv.AcceptedClients()
			require.NoError(t, err)
			assert.False(t, contains(acc, f.old.chain[0]), "the old certificate was removed")
		})
	}
}
