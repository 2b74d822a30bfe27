package keystore

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/chain"
)

// Error messages say in one sentence, with one package prefix, what the
// input is not: a file that is no keystore, and a reply that reaches no
// anchor (still matching the sentinels).
func TestMessagesOnePrefix(t *testing.T) {
	_, err := Parse([]byte("this is not a keystore"), []byte("pw"), nil)
	require.ErrorIs(t, err, ErrMalformed)
	assert.Contains(t, err.Error(), "keystore: not a JKS or PKCS#12 keystore: want 0xFEEDFEED")
	assert.NotContains(t, err.Error(), "malformed unknown")

	u := &untrustedReplyError{alias: "client", err: chain.ErrMissingIssuer}
	assert.ErrorIs(t, u, ErrUntrustedReply)
	assert.ErrorIs(t, u, chain.ErrMissingIssuer)
	assert.Equal(t, `keystore: the certificate reply for alias "client" does not reach a trust anchor: chain: issuer not found`, u.Error())
	assert.Equal(t, 1, strings.Count(u.Error(), "keystore: "))
	assert.False(t, errors.Is(u, ErrMalformed))
}
