package haproxy_test

import (
	"context"
	"crypto/x509"
	"log"
	"time"

	"github.com/certroll/certroll/renewal/haproxy"
)

// The receiver for an HAProxy configured as the package documentation
// shows: trusting the new root edits the CA file, runs haproxy -c, reloads
// through the master socket and waits until the new worker advertises both
// roots. It needs a running HAProxy, so it has no output to check.
func ExampleNewReceiver() {
	rcv, err := haproxy.NewReceiver(haproxy.Config{
		CAFile:       "/etc/haproxy/certroll/client-ca.pem",
		PinnedACL:    "/etc/haproxy/certroll/pinned-clients.acl",
		AccessLog:    "/var/log/haproxy/certroll-clients.log",
		ConfigFiles:  []string{"/etc/haproxy/haproxy.cfg"},
		MasterSocket: "/run/haproxy-master.sock",
		URL:          "https://receiver.example:8443/health",
		Timeout:      time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	var newRoot *x509.Certificate // the new CA's root, from its reply
	if newRoot == nil {
		return
	}
	if err := rcv.TrustRoot(context.Background(), newRoot); err != nil {
		log.Fatal(err) // a *haproxy.RolledBackError if haproxy -c failed
	}
}
