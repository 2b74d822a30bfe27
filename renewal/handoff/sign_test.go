package handoff_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/handoff"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// request returns a PEM request for a new key, the certificate the new
// CA (root, then an issuing CA) issues for that key, and the CAs.
func request(t *testing.T) ([]byte, *x509.Certificate, *testpki.CA, *testpki.CA) {
	t.Helper()
	root := testpki.NewRoot(t, "New Root CA")
	inter := root.Intermediate(t, "New Issuing CA")
	key := testpki.NewKey(t, testpki.KeyECDSAP256)
	old := root.Leaf(t, "tenant-client")
	csrPEM, err := keystore.RenewalCSR(key, old.Cert)
	require.NoError(t, err)
	return csrPEM, inter.Leaf(t, "tenant-client", testpki.WithKey(key)).Cert, root, inter
}

func TestSignReplyForms(t *testing.T) {
	csrPEM, leaf, root, inter := request(t)
	tests := []struct {
		name  string
		reply []byte
		pool  []*x509.Certificate
	}{
		{"PEM, root first", testpki.PEM(root.Cert, inter.Cert, leaf), nil},
		{"DER leaf alone, chain from Pool", leaf.Raw, []*x509.Certificate{inter.Cert, root.Cert}},
		{"PEM leaf and intermediate, root from Pool", testpki.PEM(inter.Cert, leaf), []*x509.Certificate{root.Cert}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca := &handoff.CA{Dir: t.TempDir(), Pool: tc.pool}
			_, err := ca.Sign(context.Background(), csrPEM)
			var w *renewal.AwaitingReplyError
			require.ErrorAs(t, err, &w)
			require.NoError(t, os.WriteFile(w.Reply, tc.reply, 0o644))
			got, err := ca.Sign(context.Background(), csrPEM)
			require.NoError(t, err)
			assert.Equal(t, "CN=tenant-client -> CN=New Issuing CA -> CN=New Root CA", chain.Path(got))
		})
	}
}

func TestSignRefusesBadReplies(t *testing.T) {
	csrPEM, leaf, root, inter := request(t)
	other := inter.Leaf(t, "someone-else").Cert
	tests := []struct {
		name    string
		reply   []byte
		problem string
		is      error
	}{
		{"not certificates", []byte("hello, this is the CA's portal\n"), "expected certificates", keystore.ErrMalformed},
		{"another key", testpki.PEM(other, inter.Cert, root.Cert), "answers another request", nil},
		{"no root", testpki.PEM(leaf), "does not reach a root", chain.ErrMissingIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca := &handoff.CA{Dir: t.TempDir()}
			_, err := ca.Sign(context.Background(), csrPEM)
			var w *renewal.AwaitingReplyError
			require.ErrorAs(t, err, &w)
			require.NoError(t, os.WriteFile(w.Reply, tc.reply, 0o644))
			_, err = ca.Sign(context.Background(), csrPEM)
			var re *handoff.ReplyError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, w.Reply, re.Path)
			assert.Equal(t, w.Request, re.Request)
			assert.Contains(t, re.Problem, tc.problem)
			assert.True(t, strings.HasPrefix(err.Error(), "handoff: "))
			assert.True(t, strings.HasSuffix(err.Error(), "and run again"), "the advice ends the message: %s", err)
			assert.NotContains(t, err.Error(), "CA.Pool", "no Go field")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.NotErrorIs(t, err, renewal.ErrAwaitingReply)
		})
	}
}

func TestSignRequestFiles(t *testing.T) {
	dir := t.TempDir()
	ca := &handoff.CA{Dir: dir}
	csrPEM, _, _, _ := request(t)
	_, err := ca.Sign(context.Background(), csrPEM)
	var w *renewal.AwaitingReplyError
	require.ErrorAs(t, err, &w)
	assert.True(t, strings.HasPrefix(filepath.Base(w.Request), "renewal-"))
	assert.Equal(t, strings.TrimSuffix(w.Request, ".csr")+".reply", w.Reply)

	// A request for another key gets its own files; the first stays.
	other, _, _, _ := request(t)
	_, err = ca.Sign(context.Background(), other)
	var w2 *renewal.AwaitingReplyError
	require.ErrorAs(t, err, &w2)
	assert.NotEqual(t, w.Request, w2.Request)
	first, err := os.ReadFile(w.Request)
	require.NoError(t, err)
	assert.Equal(t, csrPEM, first)

	// No folder, no request: the error says to create it.
	_, err = (&handoff.CA{Dir: filepath.Join(dir, "missing")}).Sign(context.Background(), csrPEM)
	require.Error(t, err)
	assert.NotErrorIs(t, err, renewal.ErrAwaitingReply)
	assert.Contains(t, err.Error(), "create it")
	_, err = (&handoff.CA{}).Sign(context.Background(), csrPEM)
	assert.ErrorContains(t, err, "CA.Dir is empty")
	_, err = ca.Sign(context.Background(), []byte("not a request"))
	assert.ErrorIs(t, err, keystore.ErrMalformed)
}

func TestInstructions(t *testing.T) {
	ca := &handoff.CA{Dir: "/srv/hand over"}
	lines := ca.Instructions(renewal.Step{ID: renewal.StepGenerateKey})
	text := strings.Join(lines, "\n")
	assert.Contains(t, text, "/srv/hand over/renewal-<key>.csr")
	assert.Contains(t, text, "mv reply.tmp '/srv/hand over/renewal-<key>.reply'")
	assert.Nil(t, ca.Instructions(renewal.Step{ID: renewal.StepSwapEntry}))
}
