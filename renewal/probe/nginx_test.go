//go:build unix

package probe

import (
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nginxConf is a receiver as a user configures one: the client-CA bundle
// (advertised and trusted), optional extra trusted roots (trusted, not
// advertised), and a pin map of SHA-1 client fingerprints answering 403 to
// any other certificate.
const nginxConf = `daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    map $ssl_client_fingerprint $certroll_pinned {
        default 0;
        include %[1]s/pins.map;
    }
    server {
        listen 127.0.0.1:%[2]s ssl;
        ssl_certificate %[1]s/server.pem;
        ssl_certificate_key %[1]s/server.key;
        ssl_client_certificate %[1]s/client-ca.pem;
        %[3]s
        ssl_verify_client on;
        location / {
            if ($ssl_client_verify != SUCCESS) { return 403; }
            if ($certroll_pinned = 0) { return 403; }
            return 200 "ok\n";
        }
    }
}
`

type nginxSetup struct {
	advertised []*x509.Certificate // ssl_client_certificate
	trusted    []*x509.Certificate // ssl_trusted_certificate, not advertised
	pinned     []*x509.Certificate
}

// startNginx runs a real nginx for setup and returns its base URL.
func startNginx(t *testing.T, p *pki, s nginxSetup) string {
	t.Helper()
	nginx := needProgram(t, "/usr/sbin/nginx", "nginx")
	dir := t.TempDir()
	writeFile(t, dir, "server.pem", testpki.PEM(p.server.Chain...))
	writeFile(t, dir, "server.key", testpki.KeyPEM(t, p.server.Key))
	writeFile(t, dir, "client-ca.pem", testpki.PEM(s.advertised...))
	var pins []byte
	for _, c := range s.pinned {
		sum := sha1.Sum(c.Raw)
		pins = append(pins, fmt.Sprintf("%s 1;\n", hex.EncodeToString(sum[:]))...)
	}
	writeFile(t, dir, "pins.map", pins)
	extra := ""
	if len(s.trusted) > 0 {
		extra = "ssl_trusted_certificate " + writeFile(t, dir, "trusted.pem", testpki.PEM(s.trusted...)) + ";"
	}
	conf := filepath.Join(dir, "nginx.conf")
	logs := func() string { b, _ := os.ReadFile(filepath.Join(dir, "error.log")); return string(b) }
	addr, _, _ := startServer(t, func(port string) []string {
		require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port, extra), 0o600))
		return []string{nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf}
	}, logs)
	return "https://" + addr + "/health"
}

func TestProbeNginx(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	bothRoots := []*x509.Certificate{p.oldRoot.Cert, p.newRoot.Cert}
	pinBoth := []*x509.Certificate{p.oldClient.Cert, p.newClient.Cert}
	tests := []struct {
		name       string
		setup      nginxSetup
		want       []error
		status     int
		advertised []string
	}{
		{
			name:       "bundle of both roots, new certificate pinned",
			setup:      nginxSetup{advertised: bothRoots, pinned: pinBoth},
			status:     200,
			advertised: []string{"CN=Old Root", "CN=New Root"},
		},
		{
			name:       "new root trusted but only the old root's file advertised",
			setup:      nginxSetup{advertised: bothRoots[:1], trusted: bothRoots[1:], pinned: pinBoth},
			want:       []error{ErrNotAdvertised},
			status:     200,
			advertised: []string{"CN=Old Root"},
		},
		{
			name:       "only the old root's file",
			setup:      nginxSetup{advertised: bothRoots[:1], pinned: pinBoth},
			want:       []error{ErrStatus, ErrNotAdvertised},
			status:     400, // nginx's 495 "The SSL certificate error", sent as 400
			advertised: []string{"CN=Old Root"},
		},
		{
			name:       "both roots, new certificate not pinned",
			setup:      nginxSetup{advertised: bothRoots, pinned: pinBoth[:1]},
			want:       []error{ErrStatus},
			status:     403,
			advertised: []string{"CN=Old Root", "CN=New Root"},
		},
	}
	all := []error{ErrHandshake, ErrStatus, ErrNotAdvertised, ErrNotRequested, ErrExchange}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := startNginx(t, p, tt.setup)
			res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, &Options{Roots: p.serverRoots()})
			require.NotNil(t, res)
			assert.Equal(t, tt.status, res.Status, "body %q", res.Body)
			assert.Equal(t, tt.advertised, res.AdvertisedNames())
			for _, s := range all {
				assert.Equal(t, contains(tt.want, s), errors.Is(err, s), "errors.Is(%v) for %v", s, err)
			}
			if contains(tt.want, ErrNotAdvertised) {
				assert.ErrorContains(t, err, "the server advertises CN=Old Root but not CN=New Root: a Java client will not present this certificate")
			}
			if contains(tt.want, ErrStatus) {
				assert.ErrorContains(t, err, fmt.Sprintf("status %d", tt.status))
			}
			// The old certificate, as the nodes present it today, passes
			// wherever its root is advertised and it is pinned.
			_, oldErr := Probe(context.Background(), u, p.oldClient.Chain, p.oldClient.Key,
				&Options{Roots: p.serverRoots(), Root: p.oldRoot.Cert})
			assert.NoError(t, oldErr)
		})
	}
	t.Run("server certificate not trusted", func(t *testing.T) {
		t.Parallel()
		u := startNginx(t, p, nginxSetup{advertised: bothRoots, pinned: pinBoth})
		res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key,
			&Options{Roots: testpki.Pool(p.newRoot.Cert)})
		require.ErrorIs(t, err, ErrHandshake)
		assert.ErrorContains(t, err, "TLS handshake failed")
		assert.Zero(t, res.Status)
	})
}
