package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/certroll/certroll/keystore"
)

// tlsConfig builds the server configuration for the trust in s, which
// advertises the names of the roots adv.
func (r *Receiver) tlsConfig(s *snapshot, adv []*x509.Certificate) *tls.Config {
	pool := x509.NewCertPool() // never nil: a nil ClientCAs would mean the system roots
	for _, c := range adv {
		pool.AddCert(c)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{r.server.Certificate},
		// A certificate is required, and verified below rather than by
		// crypto/tls: crypto/tls calls VerifyPeerCertificate only for
		// chains it has verified, and the receiver records every
		// certificate a client presents (see [Receiver.LastSeen]), refused
		// ones too. ClientCAs only names the advertised roots (the trusted
		// ones, unless [Receiver.AdvertiseOnly] chose others) in the
		// certificate request.
		ClientAuth: tls.RequireAnyClientCert,
		ClientCAs:  pool,
		MinVersion: tls.VersionTLS12,
		Time:       r.cfg.Now,
		// Without tickets no session is resumed, so every connection runs
		// a full handshake against the trust current at that moment.
		SessionTicketsDisabled: true,
		// The decision [Receiver.Accepts] makes: chain.Receiver verifies
		// the chain to a trusted root for clientAuth at the receiver's
		// clock, and checks the accepted list and its policy, so that
		// both reach one verdict.
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 {
				r.observe(raw[0])
			}
			certs := make([]*x509.Certificate, len(raw))
			for i, der := range raw {
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return fmt.Errorf("local: client certificate %d: %w", i+1, err)
				}
				certs[i] = c
			}
			return s.verify(certs, r.cfg.Now())
		},
	}
}

// configForClient returns the TLS configuration for a new connection,
// rereading the files if they changed. If they cannot be read the
// handshake fails: a receiver that cannot tell whom it trusts refuses
// everyone rather than keep trusting what an administrator may just have
// removed.
func (r *Receiver) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	s, err := r.current()
	if err != nil {
		r.errorLog.Printf("%v", err)
		return nil, err
	}
	return s.tls, nil
}

// Start starts the HTTPS server on a free port of 127.0.0.1 and returns its
// URL, "https://127.0.0.1:port/". Every path answers a request from an
// accepted client with 200 and a one-line body naming the client
// certificate's SHA-256 fingerprint. Starting a started receiver returns
// its URL again.
func (r *Receiver) Start() (string, error) {
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	if r.srv != nil {
		return r.url, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("local: receiver: %w", err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(r.handle),
		ErrorLog:          r.errorLog,
		ReadHeaderTimeout: 10 * time.Second,
	}
	// One request per connection: a connection kept alive would keep
	// serving a client after its certificate was removed.
	srv.SetKeepAlivesEnabled(false)
	done := make(chan struct{})
	tl := tls.NewListener(ln, &tls.Config{GetConfigForClient: r.configForClient})
	go func() {
		defer close(done)
		_ = srv.Serve(tl) // returns http.ErrServerClosed after Close
	}()
	r.srv, r.done, r.started = srv, done, true
	r.url = "https://" + ln.Addr().String() + "/"
	return r.url, nil
}

// serving returns the server's URL, or "" if it is not running.
func (r *Receiver) serving() string {
	url, _ := r.probeTarget()
	return url
}

// probeTarget returns the server's URL, or "" if it is not running, and
// whether it was ever started.
func (r *Receiver) probeTarget() (url string, started bool) {
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	if r.done != nil {
		select {
		case <-r.done: // Serve returned: the server ended without Close
			return "", true
		default:
		}
	}
	return r.url, r.started
}

// Close stops the HTTPS server, closing its connections, and waits for it
// to finish. Closing a receiver that is not running does nothing. The
// files stay as they are; the receiver can be started again.
func (r *Receiver) Close() error {
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	if r.srv == nil {
		return nil
	}
	err := r.srv.Close()
	<-r.done
	r.srv, r.done, r.url = nil, nil, ""
	if err != nil {
		return fmt.Errorf("local: receiver: %w", err)
	}
	return nil
}

// serve starts the HTTPS server as [Receiver.Start] does, serves until ctx
// is done, and closes it.
func (r *Receiver) serve(ctx context.Context) error {
	if _, err := r.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return r.Close()
}

// handle answers a request from a client the handshake accepted and
// counts it under the client certificate's fingerprint.
func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		// Unreachable through the server, which requires a certificate.
		http.Error(w, "client certificate required", http.StatusForbidden)
		return
	}
	fp := keystore.CertFingerprint(req.TLS.PeerCertificates[0]).Hex()
	r.servedMu.Lock()
	r.served[fp]++
	r.servedMu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "accepted client certificate SHA-256 %s\n", fp)
}

// servedByFingerprint returns how many requests the server answered per client
// certificate, keyed by the certificate's SHA-256 fingerprint in
// lower-case hex (as [keystore.Fingerprint.Hex] gives it).
func (r *Receiver) servedByFingerprint() map[string]int {
	r.servedMu.Lock()
	defer r.servedMu.Unlock()
	out := make(map[string]int, len(r.served))
	for k, v := range r.served {
		out[k] = v
	}
	return out
}
