package local

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReceiverTrustAcceptRemove(t *testing.T) {
	for _, format := range []truststore.Kind{truststore.JKS, truststore.PKCS12, truststore.PEMBundle} {
		t.Run(format.String(), func(t *testing.T) {
			ctx := context.Background()
			r := newTestReceiver(t, format)
			ca := newTestCA(t, "Client Root A")
			client := issueClient(t, ca, "tenant-client")
			cert := client.tlsCertificate()

			// Nothing trusted, nothing accepted.
			assert.Error(t, request(t, r, &cert), "a fresh receiver must refuse every client")
			assert.ErrorIs(t, r.Accepts(ctx, client.chain), ErrNotAccepted)

			require.NoError(t, r.TrustRoot(ctx, ca.Root()))
			err := r.Accepts(ctx, client.chain)
			assert.ErrorIs(t, err, chain.ErrNotPinned, "trusted but not accepted")
			assert.Error(t, request(t, r, &cert))

			require.NoError(t, r.AcceptClient(ctx, client.chain))
			require.NoError(t, r.Accepts(ctx, client.chain))
			require.NoError(t, request(t, r, &cert))
			require.NoError(t, request(t, r, &cert))
			assert.Equal(t, map[string]int{keystore.CertFingerprint(client.leaf()).Hex(): 2}, r.servedByFingerprint())

			// Idempotent edits change nothing, not even the files.
			before := r.readCount()
			require.NoError(t, r.TrustRoot(ctx, ca.Root()))
			require.NoError(t, r.AcceptClient(ctx, client.chain))
			require.NoError(t, request(t, r, &cert))
			assert.Equal(t, before, r.readCount(), "repeating TrustRoot and AcceptClient must not rewrite the files")
			roots, err := r.Roots()
			require.NoError(t, err)
			assert.Len(t, roots, 1)
			accepted, err := r.AcceptedClients()
			require.NoError(t, err)
			assert.Len(t, accepted, 1)

			// Without a client certificate the handshake fails.
			assert.Error(t, request(t, r, nil))

			require.NoError(t, r.RemoveClient(ctx, client.leaf()))
			assert.ErrorIs(t, r.Accepts(ctx, client.chain), chain.ErrNotPinned)
			assert.Error(t, request(t, r, &cert), "a removed client must be refused at the next handshake")
			require.NoError(t, r.RemoveClient(ctx, client.leaf()), "removing twice is not an error")

			require.NoError(t, r.AcceptClient(ctx, client.chain))
			require.NoError(t, request(t, r, &cert))
			require.NoError(t, r.RemoveRoot(ctx, ca.Root()))
			assert.ErrorIs(t, r.Accepts(ctx, client.chain), chain.ErrUnknownAuthority)
			assert.Error(t, request(t, r, &cert), "a client of a removed root must be refused at the next handshake")
			require.NoError(t, r.RemoveRoot(ctx, ca.Root()), "removing twice is not an error")
			roots, err = r.Roots()
			require.NoError(t, err)
			assert.Empty(t, roots)
			assert.Equal(t, 4, r.servedByFingerprint()[keystore.CertFingerprint(client.leaf()).Hex()], "4 requests were answered")
		})
	}
}

// TestReceiverReloadsExternalEdits edits the files the way another program
// would, and checks that the next handshake sees the change.
func TestReceiverReloadsExternalEdits(t *testing.T) {
	ctx := context.Background()
	r := newTestReceiver(t, truststore.JKS)
	ca := newTestCA(t, "Client Root A")
	client := issueClient(t, ca, "tenant-client")
	cert := client.tlsCertificate()
	require.NoError(t, r.TrustRoot(ctx, ca.Root()))
	require.NoError(t, r.AcceptClient(ctx, client.chain))
	require.NoError(t, request(t, r, &cert))

	tests := []struct {
		name   string
		edit   func(t *testing.T)
		accept bool
	}{
		{"truststore emptied with keystore.Update", func(t *testing.T) {
			require.NoError(t, keystore.Update(context.Background(), r.cfg.Truststore, storePassword, func(s *keystore.Store) error {
				for _, a := range s.Aliases() {
					if err := s.Delete(a); err != nil {
						return err
					}
				}
				return nil
			}, nil))
		}, false},
		{"root back with keystore.Update", func(t *testing.T) {
			require.NoError(t, keystore.Update(context.Background(), r.cfg.Truststore, storePassword, func(s *keystore.Store) error {
				return s.Set(&keystore.Entry{Alias: "mine", Chain: []*x509.Certificate{ca.Root()}}, nil)
			}, nil))
		}, true},
		{"accepted list overwritten in place", func(t *testing.T) {
			// Same inode, a different size: not an atomic replacement.
			require.NoError(t, os.WriteFile(r.cfg.Accepted, []byte("# nobody\n"), 0o600))
		}, false},
		{"accepted list written in place again", func(t *testing.T) {
			require.NoError(t, os.WriteFile(r.cfg.Accepted, testpki.PEM(client.leaf()), 0o600))
		}, true},
		{"truststore damaged: refuse everyone", func(t *testing.T) {
			require.NoError(t, os.WriteFile(r.cfg.Truststore, []byte("not a keystore"), 0o600))
		}, false},
		{"truststore repaired", func(t *testing.T) {
			s := keystore.New(keystore.JKS, nil)
			require.NoError(t, s.Set(&keystore.Entry{Alias: "again", Chain: []*x509.Certificate{ca.Root()}}, nil))
			require.NoError(t, s.Save(r.cfg.Truststore, storePassword, nil))
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.readCount()
			tc.edit(t)
			err := request(t, r, &cert)
			aerr := r.Accepts(ctx, client.chain)
			if tc.accept {
				assert.NoError(t, err)
				assert.NoError(t, aerr)
				assert.Equal(t, before+1, r.readCount(), "the change must be read exactly once")
			} else {
				assert.Error(t, err)
				assert.Error(t, aerr)
			}
		})
	}

	// A damaged file is not a verdict about the chain.
	require.NoError(t, os.WriteFile(r.cfg.Truststore, []byte("not a keystore"), 0o600))
	err := r.Accepts(ctx, client.chain)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNotAccepted)
	assert.ErrorIs(t, err, keystore.ErrMalformed)
}

// TestAcceptsAgreesWithTLS checks, case by case, that Accepts and a real
// handshake with the receiver's server reach the same verdict.
func TestAcceptsAgreesWithTLS(t *testing.T) {
	root := testpki.NewRoot(t, "Client Root")
	inter := root.Intermediate(t, "Client Issuing CA")
	other := testpki.NewRoot(t, "Unrelated Root")

	tests := []struct {
		name    string
		leaf    *testpki.Leaf
		present func(l *testpki.Leaf) []*x509.Certificate // nil: l.Chain
		trust   []*x509.Certificate
		accept  bool // put the leaf in the accepted list
		want    error
	}{
		{name: "trusted and accepted", leaf: root.Leaf(t, "ok"), trust: []*x509.Certificate{root.Cert}, accept: true},
		{name: "via intermediate", leaf: inter.Leaf(t, "via-inter"), trust: []*x509.Certificate{root.Cert}, accept: true},
		{name: "two roots trusted", leaf: root.Leaf(t, "two"), trust: []*x509.Certificate{other.Cert, root.Cert}, accept: true},
		{name: "root sent along", leaf: root.Leaf(t, "with-root"), trust: []*x509.Certificate{root.Cert}, accept: true,
			present: func(l *testpki.Leaf) []*x509.Certificate { return append(l.Chain, root.Cert) }},
		{name: "not accepted", leaf: root.Leaf(t, "unmapped"), trust: []*x509.Certificate{root.Cert}, want: chain.ErrNotPinned},
		{name: "unknown root", leaf: other.Leaf(t, "stranger"), trust: []*x509.Certificate{root.Cert}, accept: true, want: chain.ErrUnknownAuthority,
			present: func(l *testpki.Leaf) []*x509.Certificate { return append(l.Chain, other.Cert) }},
		{name: "no root trusted, root not sent", leaf: root.Leaf(t, "lonely"), accept: true, want: chain.ErrIncompleteChain},
		{name: "intermediate missing", leaf: inter.Leaf(t, "bare"), trust: []*x509.Certificate{root.Cert}, accept: true,
			present: func(l *testpki.Leaf) []*x509.Certificate { return l.Chain[:1] }, want: ErrNotAccepted},
		{name: "expired", leaf: root.Leaf(t, "old", testpki.Expired()), trust: []*x509.Certificate{root.Cert}, accept: true, want: chain.ErrExpired},
		{name: "not yet valid", leaf: root.Leaf(t, "early", testpki.NotYetValid()), trust: []*x509.Certificate{root.Cert}, accept: true, want: chain.ErrNotYetValid},
		{name: "serverAuth only", leaf: root.Leaf(t, "server", testpki.EKU(x509.ExtKeyUsageServerAuth)), trust: []*x509.Certificate{root.Cert}, accept: true, want: chain.ErrUsage},
		{name: "RSA-1024 key", leaf: root.Leaf(t, "weak", testpki.RSA1024()), trust: []*x509.Certificate{root.Cert}, accept: true, want: chain.ErrWeakKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := newTestReceiver(t, truststore.JKS)
			for _, c := range tc.trust {
				require.NoError(t, r.TrustRoot(ctx, c))
			}
			if tc.accept {
				require.NoError(t, r.AcceptClient(ctx, tc.leaf.Chain))
			} else {
				// Accept somebody else, so the list is not empty.
				require.NoError(t, r.AcceptClient(ctx, []*x509.Certificate{root.Leaf(t, "somebody").Cert}))
			}
			presented := tc.leaf.Chain
			if tc.present != nil {
				presented = tc.present(tc.leaf)
			}
			cert := tc.leaf.TLSCertificate()
			cert.Certificate = nil
			for _, c := range presented {
				cert.Certificate = append(cert.Certificate, c.Raw)
			}

			aerr := r.Accepts(ctx, presented)
			herr := request(t, r, &cert)
			if tc.want == nil {
				assert.NoError(t, aerr)
				assert.NoError(t, herr)
				return
			}
			assert.ErrorIs(t, aerr, ErrNotAccepted)
			assert.ErrorIs(t, aerr, tc.want)
			assert.Error(t, herr, "Accepts refuses (%v) but the handshake succeeded", aerr)
		})
	}
}

func TestReceiverEmptyAcceptedList(t *testing.T) {
	ctx := context.Background()
	r := newTestReceiver(t, truststore.PEMBundle)
	ca := newTestCA(t, "Client Root A")
	client := issueClient(t, ca, "tenant-client")
	require.NoError(t, r.TrustRoot(ctx, ca.Root()))
	err := r.Accepts(ctx, client.chain)
	assert.ErrorIs(t, err, ErrNotAccepted)
	assert.ErrorIs(t, err, chain.ErrNotPinned)
	assert.Contains(t, err.Error(), "accepted list is empty")
	cert := client.tlsCertificate()
	assert.Error(t, request(t, r, &cert))
}

func TestReceiverFiles(t *testing.T) {
	ctx := context.Background()
	r := newTestReceiver(t, truststore.JKS)
	ca := newTestCA(t, "Client Root A / Example, Inc.")
	client := issueClient(t, ca, "tenant-client")
	require.NoError(t, r.TrustRoot(ctx, ca.Root()))
	require.NoError(t, r.AcceptClient(ctx, client.chain))

	ts, err := keystore.Open(r.cfg.Truststore, storePassword, nil)
	require.NoError(t, err)
	fp := keystore.CertFingerprint(ca.Root()).Hex()
	assert.Equal(t, []string{"client-root-a---example--inc-" + fp[:12]}, ts.Aliases())
	kind, err := ts.Kind(ts.Aliases()[0])
	require.NoError(t, err)
	assert.Equal(t, keystore.TrustedEntry, kind)

	data, err := os.ReadFile(r.cfg.Accepted)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "# "+acceptedHeader+"\n"))
	assert.Contains(t, string(data), "# SHA-256 "+keystore.CertFingerprint(client.leaf()).String())
	certs, err := keystore.ParseCertificates(data)
	require.NoError(t, err)
	require.Len(t, certs, 1)
	assert.Equal(t, client.leaf().Raw, certs[0].Raw)

	fi, err := os.Stat(r.cfg.Accepted)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a new file is created 0600")
	require.NoError(t, os.Chmod(r.cfg.Accepted, 0o640))
	require.NoError(t, r.RemoveClient(ctx, client.leaf()))
	fi, err = os.Stat(r.cfg.Accepted)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "an existing file keeps its mode")
}

func TestNewReceiverErrors(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.jks"
	require.NoError(t, os.WriteFile(bad, []byte("garbage"), 0o600))
	good := dir + "/good.jks"
	require.NoError(t, keystore.New(keystore.JKS, nil).Save(good, storePassword, nil))

	tests := []struct {
		name string
		cfg  ReceiverConfig
		want string
		is   error
	}{
		{name: "no truststore", cfg: ReceiverConfig{Accepted: dir + "/a.pem"}, want: "Truststore"},
		{name: "no accepted list", cfg: ReceiverConfig{Truststore: good}, want: "Accepted"},
		{name: "bad format", cfg: ReceiverConfig{Truststore: good, Accepted: dir + "/a.pem", TruststoreKind: 7}, want: "Kind(7)"},
		{name: "damaged truststore", cfg: ReceiverConfig{Truststore: bad, Accepted: dir + "/a.pem", TruststorePassword: storePassword}, is: keystore.ErrMalformed},
		{name: "wrong password", cfg: ReceiverConfig{Truststore: good, Accepted: dir + "/a.pem", TruststorePassword: []byte("wrong")}, is: keystore.ErrIncorrectPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReceiver(tc.cfg)
			require.Error(t, err)
			if tc.want != "" {
				assert.Contains(t, err.Error(), tc.want)
			}
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.NotContains(t, err.Error(), "wrong", "the password must not appear in the error")
		})
	}
}

func TestReceiverServeAndRestart(t *testing.T) {
	ctx := context.Background()
	r := newTestReceiver(t, truststore.PEMBundle)
	ca := newTestCA(t, "Client Root A")
	client := issueClient(t, ca, "tenant-client")
	cert := client.tlsCertificate()
	require.NoError(t, r.TrustRoot(ctx, ca.Root()))
	require.NoError(t, r.AcceptClient(ctx, client.chain))

	url := r.serving()
	again, err := r.Start()
	require.NoError(t, err)
	assert.Equal(t, url, again, "Start on a running receiver returns its URL")
	require.NoError(t, r.Close())
	assert.Empty(t, r.serving())
	require.NoError(t, r.Close(), "closing twice is not an error")

	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- r.serve(sctx) }()
	require.Eventually(t, func() bool { return r.serving() != "" }, 5e9, 1e6)
	require.NoError(t, request(t, r, &cert))
	cancel()
	require.NoError(t, <-done)
	assert.Empty(t, r.serving())
}

// TestReceiverLastSeen checks over real TLS that the receiver records,
// for every handshake, the client certificate presented and when, by its
// clock: accepted ones, refused ones (an unknown root, a leaf not in the
// accepted list), under TLS 1.2 and 1.3.
func TestReceiverLastSeen(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			now := testpki.Now
			tick := func(d time.Duration) time.Time {
				mu.Lock()
				defer mu.Unlock()
				now = now.Add(d)
				return now
			}
			dir := t.TempDir()
			r, err := NewReceiver(ReceiverConfig{
				Truststore: filepath.Join(dir, "truststore.jks"), TruststorePassword: storePassword,
				Accepted: filepath.Join(dir, "accepted.pem"), Now: func() time.Time { return tick(0) },
			})
			require.NoError(t, err)
			_, err = r.Start()
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, r.Close()) })
			var _ renewal.UsageObserver = r

			oldCA, otherCA := newTestCA(t, "Client Root A"), newTestCA(t, "Client Root B")
			old, renewed, stranger := issueClient(t, oldCA, "old"), issueClient(t, oldCA, "renewed"), issueClient(t, otherCA, "stranger")
			require.NoError(t, r.TrustRoot(ctx, oldCA.Root()))
			require.NoError(t, r.AcceptClient(ctx, old.chain))
			send := func(id identity) error {
				cert := id.tlsCertificate()
				return requestVersion(t, r, &cert, version)
			}
			lastSeen := func(id identity) time.Time {
				t.Helper()
				at, err := r.LastSeen(ctx, id.leaf())
				require.NoError(t, err)
				return at
			}

			for _, id := range []identity{old, renewed, stranger} {
				assert.True(t, lastSeen(id).IsZero(), "nothing presented yet")
			}
			t1 := tick(time.Second)
			require.NoError(t, send(old))
			assert.Equal(t, t1, lastSeen(old), "an accepted handshake")
			assert.True(t, lastSeen(renewed).IsZero())

			t2 := tick(time.Second)
			assert.Error(t, send(renewed), "trusted root, leaf not accepted")
			assert.Equal(t, t2, lastSeen(renewed), "a handshake refused for the accepted list")
			assert.Equal(t, t1, lastSeen(old), "another certificate's record is unchanged")

			t3 := tick(time.Second)
			assert.Error(t, send(stranger), "unknown root")
			assert.Equal(t, t3, lastSeen(stranger), "a handshake refused for its root")

			require.NoError(t, r.RemoveRoot(ctx, oldCA.Root()))
			t4 := tick(time.Second)
			assert.Error(t, send(old), "the old root is gone")
			assert.Equal(t, t4, lastSeen(old), "a client still presenting a removed certificate is seen")

			assert.Error(t, requestVersion(t, r, nil, version), "no client certificate")
			assert.Equal(t, t4, lastSeen(old))

			_, err = r.LastSeen(ctx, nil)
			assert.ErrorContains(t, err, "nil certificate")
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			_, err = r.LastSeen(cancelled, old.leaf())
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
}

// TestReceiverLastSeenIsBounded presents more distinct certificates than
// the receiver remembers: the record stays at maxSeen, the least recently
// seen certificate is forgotten, and one presented again all along is
// still remembered, so a client that keeps using the old certificate
// keeps holding the drain.
func TestReceiverLastSeenIsBounded(t *testing.T) {
	ctx := context.Background()
	var now time.Time
	dir := t.TempDir()
	r, err := NewReceiver(ReceiverConfig{
		Truststore: filepath.Join(dir, "truststore.jks"), TruststorePassword: storePassword,
		Accepted: filepath.Join(dir, "accepted.pem"), Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	ca := newTestCA(t, "Bound Root")
	kept := issueClient(t, ca, "kept").leaf()
	first := []byte("the first stranger")
	now = testpki.Now
	r.observe(first)
	for i := 0; i < maxSeen+5; i++ {
		now = now.Add(time.Second)
		r.observe([]byte(fmt.Sprintf("stranger %d", i)))
		r.observe(kept.Raw)
	}
	r.seenMu.Lock()
	n := len(r.seen)
	r.seenMu.Unlock()
	assert.Equal(t, maxSeen, n)
	got, err := r.LastSeen(ctx, kept)
	require.NoError(t, err)
	assert.Equal(t, now, got, "the certificate presented all along is remembered")
	r.seenMu.Lock()
	_, ok := r.seen[sha256.Sum256(first)]
	r.seenMu.Unlock()
	assert.False(t, ok, "the least recently seen is forgotten")
}
