package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// AdvertisedCANames connects to rawURL (https://host:port/...) presenting
// no certificate and returns the certificate authority names (DER) the
// server lists in its CertificateRequest, in its order: what a Java client
// picks its certificate by. The server is verified as [Probe] verifies it
// ([Options.Roots], [Options.ServerName], [Options.Timeout]; the other
// options do not apply). It is an error if the handshake fails before the
// server asks for a certificate, or if it asks for none. No request is
// sent.
func AdvertisedCANames(ctx context.Context, rawURL string, opts *Options) ([][]byte, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q: want https://host[:port]/path", ErrInvalid, rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	serverName := opts.ServerName
	if serverName == "" {
		serverName = u.Hostname()
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var names [][]byte
	asked := false
	cfg := &tls.Config{
		RootCAs:    opts.Roots,
		ServerName: serverName,
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked = true
			for _, n := range cri.AcceptableCAs {
				names = append(names, bytes.Clone(n))
			}
			// No certificate: only the names are read.
			return &tls.Certificate{}, nil
		},
	}
	d := &tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", host)
	if conn != nil {
		conn.Close()
	}
	if !asked {
		if err == nil {
			err = errors.New("the server asked for no client certificate")
		}
		return nil, fmt.Errorf("probe: reading the CA names %q advertises: %w", rawURL, err)
	}
	return names, nil
}

// NamesError reports that a server advertises other certificate authority
// names than the roots of the file it was configured with: it has not
// (yet) read the file.
type NamesError struct {
	// URL is the server's URL.
	URL string
	// Advertised lists the names the server advertises, as
	// [Result.AdvertisedNames] prints them.
	Advertised []string
	// Want lists the roots whose subjects were expected.
	Want []*x509.Certificate
}

// Error names what the server advertises and what was expected.
func (e *NamesError) Error() string {
	want := make([]string, len(e.Want))
	for i, c := range e.Want {
		want[i] = shortName(parseName(c.RawSubject))
	}
	adv := strings.Join(e.Advertised, ", ")
	if adv == "" {
		adv = "no names"
	}
	return fmt.Sprintf("probe: %q advertises %s, want the names of its %d roots (%s): it has not read the edited CA file",
		e.URL, adv, len(e.Want), strings.Join(want, ", "))
}

// CheckAdvertised reads the names rawURL advertises ([AdvertisedCANames])
// and returns nil if they are exactly the subjects of roots (as sets,
// compared as [Probe] compares names), a *[NamesError] if they differ, or
// the error of reading them.
func CheckAdvertised(ctx context.Context, rawURL string, roots []*x509.Certificate, opts *Options) error {
	names, err := AdvertisedCANames(ctx, rawURL, opts)
	if err != nil {
		return err
	}
	if sameNameSet(names, roots) {
		return nil
	}
	ne := &NamesError{URL: rawURL, Want: roots}
	for _, n := range names {
		ne.Advertised = append(ne.Advertised, shortName(parseName(n)))
	}
	return ne
}

// sameNameSet reports whether every name is a root's subject and every
// root's subject is among names.
func sameNameSet(names [][]byte, roots []*x509.Certificate) bool {
	for _, n := range names {
		found := false
		for _, r := range roots {
			if sameName(n, r.RawSubject) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, r := range roots {
		found := false
		for _, n := range names {
			if sameName(n, r.RawSubject) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
