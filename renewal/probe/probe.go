// Package probe decides whether a receiver accepts a client certificate by
// asking it: it connects over TLS presenting the chain and its key, records
// the certificate authority names the server advertises in its
// CertificateRequest, sends one HTTP request and judges the answer.
//
// # Usage
//
// The renewal executor holds the new chain and its key before any node
// presents it, so it can probe the receiver first:
//
//	res, err := probe.Probe(ctx, "https://receiver.example:8443/health", newChain, newKey,
//		&probe.Options{Roots: serverRoots})
//	var pe *probe.Error
//	if errors.As(err, &pe) {
//		// pe.Handshake, pe.Status, pe.NotRequested, pe.Missing say what went wrong
//	}
//	fmt.Println(res.AdvertisedNames()) // [CN=Old Root CN=New Root]
//
// A probe passes only if all of these hold:
//
//   - the TLS handshake succeeds, including the server's verdict on the
//     client certificate (a TLS 1.3 server sends that verdict after the client
//     considers the handshake done, as an alert in place of the response; it
//     counts as a handshake failure);
//   - the server asked for a client certificate at all;
//   - the HTTP status is not one the receiver uses to refuse a client
//     (401, 403, 495, 496, and 400, which nginx answers instead of 495 and 496
//     unless error_page maps them; see [Options.RejectStatus]);
//   - a Java client holding the chain would present it: see below.
//
// Every failed condition is reported together in one *[Error], which matches
// [ErrHandshake], [ErrStatus], [ErrNotRequested] and [ErrNotAdvertised] with
// errors.Is ([ErrExchange] when the connection broke after the handshake
// without an alert).
//
// # Receivers
//
// A receiver passes once the file it advertises holds both roots and it has
// reloaded that file. nginx advertises the certificates of
// ssl_client_certificate; ssl_trusted_certificate trusts without advertising,
// so a root only there fails the probe:
//
//	ssl_client_certificate /etc/nginx/certroll/client-ca.pem;  # old and new root
//	ssl_verify_client on;
//
// then nginx -t && nginx -s reload. HAProxy advertises its ca-file:
//
//	bind :8443 ssl crt /etc/haproxy/server.pem ca-file /etc/haproxy/certroll/client-ca.pem verify required
//
// then a reload (systemctl reload haproxy, USR2 to the master, or reload on
// the master socket). A reload is asynchronous, and one that fails leaves
// the old worker serving the old names: probe once "show proc" on the
// master socket lists a new worker. HAProxy 2.6 drops a USR2 that reaches
// a master still starting (one whose master socket does not answer yet),
// even though its worker may already serve. On HAProxy 2.6 the runtime API
// (set ssl ca-file, commit ssl ca-file) is not enough: it keeps advertising
// the old names.
//
// # Compatibility
//
// Java's default key manager (SunX509: ssl.KeyManagerFactory.algorithm in
// JDK 17's java.security) picks the client certificate by the names in the
// server's CertificateRequest (certificate_authorities): it offers a key entry when one of the
// certificates of its chain has an issuer among those names, and, when the
// server advertises no names at all, every key entry qualifies. A client that
// finds no matching entry sends no certificate, and the server answers
// "certificate required" however well it would have verified the chain. The
// probe applies the same rule ([JavaChooses]) to the chain it is given (the
// root's subject always counts, since the root issues the last certificate
// below it):
// [Result.Chosen] reports the outcome, and an empty list of names passes, as
// it does in Java. Names are compared as DER and, failing that, as
// case-insensitive RFC 4514 strings (Java compares canonical forms).
//
// The probe itself presents the chain whatever the server advertises, so that
// the handshake and status checks still say whether the server would verify
// it: HAProxy 2.6 updated through its runtime API (set ssl ca-file,
// commit ssl ca-file) verifies a new root but keeps advertising only the old
// one; curl gets 200 there, a JDK 17 client presents no certificate and fails
// (HAProxy answers certificate_required), and so does the probe (the tests run
// both).
//
// # Security
//
// The key never leaves the process: it signs the handshake through
// crypto.Signer. The server is verified against [Options.Roots] (the system
// roots when nil); there is no option to skip that verification.
package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
)

// DefaultTimeout is how long a probe waits for the connection, the handshake
// and the response together when [Options.Timeout] is zero: long enough for a
// receiver behind a proxy under load, short enough for a gate to report a
// receiver that does not answer.
const DefaultTimeout = 10 * time.Second

// DefaultRejectStatus lists the HTTP statuses that fail a probe when
// [Options.RejectStatus] is nil: 401 and 403 (authentication or
// authorisation refused, as a fingerprint pin answers), 495 and 496 (nginx's
// codes for a certificate it could not verify and for a missing one), and 400,
// which nginx sends in their place unless error_page maps them.
var DefaultRejectStatus = []int{400, 401, 403, 495, 496}

// maxBody bounds the part of the response body kept in a [Result], so that a
// large page does not fill memory; 4 KB is enough to read an error page.
const maxBody = 4 << 10

// Options configures a probe. A nil *Options means all defaults.
type Options struct {
	// Roots verifies the server's certificate. Nil means the system roots.
	Roots *x509.CertPool
	// ServerName is the name the server's certificate must carry and the SNI
	// sent. Empty means the host of the URL.
	ServerName string
	// Root is the new root whose acceptance is being probed. Nil means the
	// last certificate of the chain. It matters only for the error message
	// and when the chain ends below the root: the issuer names of the chain
	// decide, as they do in Java.
	Root *x509.Certificate
	// Method is the HTTP method of the request. Empty means GET.
	Method string
	// Path is the request target, such as "/health". Empty means the path
	// and query of the URL, or "/".
	Path string
	// Timeout bounds the whole probe, inside ctx's own deadline. Zero means
	// [DefaultTimeout].
	Timeout time.Duration
	// RejectStatus lists the HTTP statuses that fail the probe. Nil means
	// [DefaultRejectStatus]; an empty non-nil slice fails on none.
	RejectStatus []int
}

// Result is what a probe observed. It is returned whether the probe passed
// or not; fields the probe did not get to stay zero.
type Result struct {
	// URL is the probed URL.
	URL string
	// Requested reports that the server asked for a client certificate.
	Requested bool
	// Advertised lists the certificate authority names the server sent in
	// its CertificateRequest, in its order. Empty when it sent none.
	Advertised []pkix.Name
	// Chosen reports that Java's default key manager would present the
	// chain: the server asked for a certificate and advertised no names, or
	// an issuer of the chain is among them (see the package doc).
	Chosen bool
	// Version is the negotiated TLS version, such as tls.VersionTLS13; zero
	// when the handshake failed.
	Version uint16
	// Status is the HTTP status code of the response; zero when there was
	// none.
	Status int
	// Body is the start of the response body (at most 4 KB).
	Body []byte
}

// AdvertisedNames returns the advertised names in the short form of
// chain.Name ("CN=" and the common name, or the whole RFC 4514 name when it
// has none).
func (r *Result) AdvertisedNames() []string {
	out := make([]string, len(r.Advertised))
	for i, n := range r.Advertised {
		out[i] = shortName(n)
	}
	return out
}

// Sentinel errors matched by an *[Error] for each condition that failed, and
// [ErrInvalid] for arguments a probe cannot start with.
var (
	// ErrHandshake matches an *Error whose TLS handshake failed.
	ErrHandshake = errors.New("probe: TLS handshake failed")
	// ErrNotRequested matches an *Error whose server did not ask for a
	// client certificate.
	ErrNotRequested = errors.New("probe: server did not ask for a client certificate")
	// ErrStatus matches an *Error whose HTTP status refuses the client.
	ErrStatus = errors.New("probe: server refused the client")
	// ErrNotAdvertised matches an *Error whose server does not advertise a
	// name under which a Java client would choose the chain.
	ErrNotAdvertised = errors.New("probe: CA name not advertised")
	// ErrExchange matches an *Error whose HTTP exchange failed after the
	// handshake for a reason other than a TLS alert.
	ErrExchange = errors.New("probe: HTTP exchange failed")
	// ErrInvalid reports arguments a probe cannot start with (an empty
	// chain, no key, a key that does not match the leaf, a URL that is not
	// https).
	ErrInvalid = errors.New("probe: invalid argument")
)

// Error reports a failed probe: every condition that failed, with what the
// server did. Its Result holds everything observed.
type Error struct {
	// Result is what the probe observed.
	Result *Result
	// Handshake is the TLS error when the handshake failed, or the alert the
	// server sent in place of a response; nil otherwise.
	Handshake error
	// Exchange is the error of an HTTP exchange that failed otherwise (the
	// server closed the connection, sent no valid response); nil otherwise.
	Exchange error
	// NotRequested reports that the server asked for no client certificate.
	NotRequested bool
	// Status is the refusing HTTP status, or zero.
	Status int
	// Missing is the root whose name (or any issuer name of the chain) the
	// server did not advertise, or nil when the names were right.
	Missing *x509.Certificate
}

// Error implements error, naming every failed condition.
func (e *Error) Error() string {
	var parts []string
	if e.Handshake != nil {
		parts = append(parts, fmt.Sprintf("TLS handshake failed: %v", e.Handshake))
	}
	if e.Exchange != nil {
		parts = append(parts, fmt.Sprintf("HTTP exchange failed: %v", e.Exchange))
	}
	if e.NotRequested {
		parts = append(parts, "the server did not ask for a client certificate, so it does not authenticate clients by certificate at this URL")
	}
	if e.Status != 0 {
		parts = append(parts, fmt.Sprintf("status %d %s: the server refused the client certificate", e.Status, http.StatusText(e.Status)))
	}
	if e.Missing != nil {
		adv := "no names"
		if e.Result != nil && len(e.Result.Advertised) > 0 {
			adv = strings.Join(e.Result.AdvertisedNames(), ", ")
		}
		parts = append(parts, fmt.Sprintf("the server advertises %s but not %s: a Java client will not present this certificate (reload the receiver so that it sends the new root's name)", adv, chain.Name(e.Missing)))
	}
	u := ""
	if e.Result != nil {
		u = e.Result.URL
	}
	return fmt.Sprintf("probe: %q: %s", u, strings.Join(parts, "; "))
}

// Is matches the sentinel of every failed condition.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrHandshake:
		return e.Handshake != nil
	case ErrExchange:
		return e.Exchange != nil
	case ErrNotRequested:
		return e.NotRequested
	case ErrStatus:
		return e.Status != 0
	case ErrNotAdvertised:
		return e.Missing != nil
	}
	return false
}

// Unwrap returns the handshake or exchange error, so that errors.As reaches
// crypto/tls's and net's errors.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Handshake != nil {
		errs = append(errs, e.Handshake)
	}
	if e.Exchange != nil {
		errs = append(errs, e.Exchange)
	}
	return errs
}

// Probe connects to rawURL (https://host:port/path) over TLS, presents chain
// (leaf first, with or without its root) signed for by key, sends one HTTP
// request and judges the receiver's answer as the package doc describes.
// It returns what it observed, and a nil error only if the probe passed;
// a failed probe gives an *[Error] next to the same Result. Arguments a probe
// cannot start with give an error matching [ErrInvalid] and a nil Result.
//
// The chain is sent as given except that a self-signed last certificate is
// left out, as TLS clients do. Probe is safe for concurrent use.
func Probe(ctx context.Context, rawURL string, certs []*x509.Certificate, key crypto.Signer, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q: want https://host[:port]/path", ErrInvalid, rawURL)
	}
	if len(certs) == 0 || slices.Contains(certs, nil) {
		return nil, fmt.Errorf("%w: chain for %q is empty or holds a nil certificate: pass the chain leaf first", ErrInvalid, rawURL)
	}
	if key == nil {
		return nil, fmt.Errorf("%w: no key for the chain of %s", ErrInvalid, chain.Name(certs[0]))
	}
	if !chain.KeyMatches(key, certs[0]) {
		return nil, fmt.Errorf("%w: the key is not the key of %s: pass the key the certificate was issued for", ErrInvalid, chain.Name(certs[0]))
	}
	root := opts.Root
	if root == nil {
		root = certs[len(certs)-1]
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	serverName := opts.ServerName
	if serverName == "" {
		serverName = u.Hostname()
	}
	target := opts.Path
	if target == "" {
		target = u.RequestURI()
	}
	method := opts.Method
	if method == "" {
		method = http.MethodGet
	}
	reject := opts.RejectStatus
	if reject == nil {
		reject = DefaultRejectStatus
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The certificate sent: the chain without a self-signed root, as
	// crypto/tls and JSSE send it.
	send := certs
	if len(send) > 1 && isSelfSigned(send[len(send)-1]) {
		send = send[:len(send)-1]
	}
	tlsCert := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range send {
		tlsCert.Certificate = append(tlsCert.Certificate, c.Raw)
	}

	res := &Result{URL: rawURL}
	pe := &Error{Result: res}
	var rawNames [][]byte
	cfg := &tls.Config{
		RootCAs:    opts.Roots,
		ServerName: serverName,
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			res.Requested = true
			rawNames = cri.AcceptableCAs
			return &tlsCert, nil
		},
	}
	d := &tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", host)
	for _, raw := range rawNames {
		res.Advertised = append(res.Advertised, parseName(raw))
	}
	res.Chosen = res.Requested && chosen(rawNames, certs, root)
	if err != nil {
		pe.Handshake = err
		if res.Requested && !res.Chosen {
			pe.Missing = root
		}
		return res, pe
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	tc := conn.(*tls.Conn)
	res.Version = tc.ConnectionState().Version

	req, err := http.NewRequestWithContext(ctx, method, "https://"+u.Host+target, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: method %q or path %q: %v", ErrInvalid, method, target, err)
	}
	req.Host = u.Host
	req.Close = true
	req.Header.Set("User-Agent", "certroll-probe")
	if err := req.Write(tc); err != nil {
		classify(pe, err)
	} else if resp, err := http.ReadResponse(bufio.NewReader(tc), req); err != nil {
		classify(pe, err)
	} else {
		res.Status = resp.StatusCode
		res.Body, _ = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if slices.Contains(reject, resp.StatusCode) {
			pe.Status = resp.StatusCode
		}
	}
	if !res.Requested {
		pe.NotRequested = true
	} else if !res.Chosen {
		pe.Missing = root
	}
	if pe.Handshake != nil || pe.Exchange != nil || pe.NotRequested || pe.Status != 0 || pe.Missing != nil {
		return res, pe
	}
	return res, nil
}

// classify files an error of the HTTP exchange: a TLS alert from the server
// is its verdict on the handshake (TLS 1.3 sends it after the client's
// Finished), anything else a failed exchange.
func classify(pe *Error, err error) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		pe.Handshake = err
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("the server closed the connection without a response (it may have refused the certificate without an alert): %w", err)
	}
	pe.Exchange = err
}

// JavaChooses reports whether Java's default key manager (SunX509) would
// offer a key entry holding chain (leaf first) to a server that advertised
// the DER-encoded certificate authority names advertised in its
// CertificateRequest: true when advertised is empty (every entry
// qualifies), or when the issuer of one of chain's certificates is among
// the names. A self-signed root in chain counts with its own subject, which
// is its issuer; a leaf's own subject does not count. Names are compared as
// DER and, failing that, as case-insensitive RFC 4514 strings (Java
// compares canonical forms); a name that does not decode matches only its
// own bytes.
//
// [Probe] applies this rule, and counts the subject of [Options.Root] as
// well (see [Result.Chosen]); renewal/local's runtime nodes choose their
// key entry by it.
func JavaChooses(advertised [][]byte, chain []*x509.Certificate) bool {
	if len(advertised) == 0 {
		return true
	}
	for _, c := range chain {
		if c != nil && containsName(advertised, c.RawIssuer) {
			return true
		}
	}
	return false
}

// chosen is the rule Probe applies: Java's ([JavaChooses]) on the chain,
// with the root's subject counting too, since the root issues the last
// certificate below it even when the chain given stops there.
func chosen(names [][]byte, certs []*x509.Certificate, root *x509.Certificate) bool {
	return JavaChooses(names, certs) || containsName(names, root.RawSubject)
}

// containsName reports whether name is among names, compared by sameName.
func containsName(names [][]byte, name []byte) bool {
	for _, n := range names {
		if sameName(n, name) {
			return true
		}
	}
	return false
}

// sameName compares two DER names: byte for byte, or else as
// case-insensitive RFC 4514 strings, near enough to Java's comparison of
// canonical forms for names that differ only in string type or case.
func sameName(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ra, rb pkix.RDNSequence
	if rest, err := asn1.Unmarshal(a, &ra); err != nil || len(rest) != 0 {
		return false
	}
	if rest, err := asn1.Unmarshal(b, &rb); err != nil || len(rest) != 0 {
		return false
	}
	return strings.EqualFold(ra.String(), rb.String())
}

// parseName decodes an advertised DER name; one that does not decode is
// kept as a name with its bytes in hex, so that it still shows in messages.
func parseName(raw []byte) pkix.Name {
	var rdn pkix.RDNSequence
	var n pkix.Name
	if rest, err := asn1.Unmarshal(raw, &rdn); err != nil || len(rest) != 0 {
		n.CommonName = fmt.Sprintf("undecodable name %x", raw)
		return n
	}
	n.FillFromRDNSequence(&rdn)
	return n
}

// shortName prints a name as chain.Name prints a certificate's subject.
func shortName(n pkix.Name) string {
	if n.CommonName != "" {
		return "CN=" + n.CommonName
	}
	return n.String()
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}
