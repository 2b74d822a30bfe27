package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckAdvertised(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	old, both := []*x509.Certificate{p.oldRoot.Cert}, []*x509.Certificate{p.oldRoot.Cert, p.newRoot.Cert}
	oldServer := goServer(t, p, 200, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = testpki.Pool(old...)
	})
	bothServer := goServer(t, p, 200, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = testpki.Pool(both...)
	})
	noClientAuth := goServer(t, p, 200, func(*tls.Config) {})
	opts := &Options{Roots: p.serverRoots()}
	ctx := context.Background()

	names, err := AdvertisedCANames(ctx, bothServer, opts)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{p.oldRoot.Cert.RawSubject, p.newRoot.Cert.RawSubject}, names)

	require.NoError(t, CheckAdvertised(ctx, bothServer, both, opts))
	require.NoError(t, CheckAdvertised(ctx, oldServer, old, opts))
	for _, tc := range []struct {
		name, url string
		roots     []*x509.Certificate
		want      string
	}{
		{"new root missing", oldServer, both, `advertises CN=Old Root, want the names of its 2 roots (CN=Old Root, CN=New Root)`},
		{"old root still advertised", bothServer, both[1:], `advertises CN=Old Root, CN=New Root, want the names of its 1 roots (CN=New Root)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckAdvertised(ctx, tc.url, tc.roots, opts)
			var ne *NamesError
			require.ErrorAs(t, err, &ne)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	_, err = AdvertisedCANames(ctx, noClientAuth, opts)
	assert.ErrorContains(t, err, "the server asked for no client certificate")
	_, err = AdvertisedCANames(ctx, bothServer, &Options{}) // system roots do not know the test's server root
	assert.ErrorContains(t, err, "reading the CA names")
	_, err = AdvertisedCANames(ctx, "http://127.0.0.1/", opts)
	assert.ErrorIs(t, err, ErrInvalid)
}
