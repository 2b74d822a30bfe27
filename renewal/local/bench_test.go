package local

import (
	"context"
	"testing"

	"github.com/certroll/certroll/truststore"

	"github.com/stretchr/testify/require"
)

// BenchmarkRequest measures one message: a new TLS connection with a
// client certificate, the receiver's checks, and a 200.
func BenchmarkRequest(b *testing.B) {
	ctx := context.Background()
	r := newTestReceiver(b, truststore.JKS)
	ca := newTestCA(b, "Client Root A")
	client := issueClient(b, ca, "tenant-client")
	require.NoError(b, r.TrustRoot(ctx, ca.Root()))
	require.NoError(b, r.AcceptClient(ctx, client.chain))
	cert := client.tlsCertificate()
	b.ResetTimer()
	for b.Loop() {
		if err := request(b, r, &cert); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAccepts measures the receiver's verdict on a chain whose files
// have not changed.
func BenchmarkAccepts(b *testing.B) {
	ctx := context.Background()
	r := newTestReceiver(b, truststore.JKS)
	ca := newTestCA(b, "Client Root A")
	client := issueClient(b, ca, "tenant-client")
	require.NoError(b, r.TrustRoot(ctx, ca.Root()))
	require.NoError(b, r.AcceptClient(ctx, client.chain))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Accepts(ctx, client.chain); err != nil {
			b.Fatal(err)
		}
	}
}
