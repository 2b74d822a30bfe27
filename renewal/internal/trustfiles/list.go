package trustfiles

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/certroll/certroll/keystore"
)

// ListFormat is the format of an accepted-certificates list: which digest
// of a client certificate each line holds, and how.
type ListFormat int

const (
	// ListUnknown is the zero ListFormat; no list has it.
	ListUnknown ListFormat = iota
	// NginxMap is the body of an nginx map block, one entry a line:
	// "<SHA-1 of the certificate's DER, 40 lower-case hex digits> 1;", the
	// form nginx's $ssl_client_fingerprint takes.
	NginxMap
	// HAProxyACL is an HAProxy ACL pattern file, one SHA-1 a line in 40
	// upper-case hex digits, the form %[ssl_c_sha1,hex] prints (HAProxy
	// compares strings case-sensitively).
	HAProxyACL
	// SHA256List is a plain list of SHA-256 certificate fingerprints, one a
	// line, printed as keytool does ("AB:CD:..."); any form
	// [keystore.ParseFingerprint] reads is accepted on reading.
	SHA256List
)

// String names the format as the Config fields of the adapters do.
func (f ListFormat) String() string {
	switch f {
	case NginxMap:
		return "nginx map"
	case HAProxyACL:
		return "HAProxy ACL"
	case SHA256List:
		return "SHA-256 list"
	}
	return fmt.Sprintf("ListFormat(%d)", int(f))
}

// valid reports whether f is one of the formats above.
func (f ListFormat) valid() bool { return f >= NginxMap && f <= SHA256List }

// want describes a line of the format, for errors.
func (f ListFormat) want() string {
	switch f {
	case NginxMap:
		return `"<40 hex digits of the SHA-1 fingerprint> 1;"`
	case HAProxyACL:
		return `"<40 upper-case hex digits of the SHA-1 fingerprint>"`
	default:
		return `"<SHA-256 fingerprint, such as AB:CD:...>"`
	}
}

// Key returns the line that accepts c in the format f.
func (f ListFormat) Key(c *x509.Certificate) string {
	switch f {
	case NginxMap:
		return sha1Hex(c) + " 1;"
	case HAProxyACL:
		return strings.ToUpper(sha1Hex(c))
	default:
		return keystore.CertFingerprint(c).String()
	}
}

// digest returns the digest of c that f compares, in lower-case hex.
func (f ListFormat) digest(c *x509.Certificate) string {
	if f == SHA256List {
		return keystore.CertFingerprint(c).Hex()
	}
	return sha1Hex(c)
}

func sha1Hex(c *x509.Certificate) string {
	// SHA-1 because it is what nginx and HAProxy print for a client
	// certificate; it identifies, it does not authenticate (the chain is
	// verified against the trusted roots first).
	d := sha1.Sum(c.Raw)
	return hex.EncodeToString(d[:])
}

// ListError reports a line of an accepted-certificates list that is not
// in the list's format.
type ListError struct {
	Path   string     // the file, or "" for bytes given directly
	Line   int        // 1-based line number
	Found  string     // the line, cut to 80 bytes
	Format ListFormat // the format expected
}

// Error says which line, what it holds and what was expected.
func (e *ListError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Path != "" {
		where = fmt.Sprintf("%q line %d", e.Path, e.Line)
	}
	return fmt.Sprintf("%s: found %q, want %s, a comment starting with \"#\" or an empty line: fix or remove the line",
		where, e.Found, e.Format.want())
}

// certHeader starts the comment block a list keeps before an entry it
// added, holding the entry's certificate, so that the receiver can say
// which certificates it accepts (renewal.ReceiverInspector) and not only
// their digests.
const certHeader = "# certroll: "

// List is an accepted-certificates list: the file's lines, kept as they
// are, with its entries recognised. An entry certroll added is preceded by
// a comment block holding its certificate in PEM; an entry a person wrote
// has its digest only. A List is not safe for concurrent use.
type List struct {
	format ListFormat
	items  []item
}

type item struct {
	lines  []string          // the item's lines as in the file
	digest string            // lower-case hex; "" for a comment or empty line
	cert   *x509.Certificate // the certificate of the comment block, or nil
}

// ParseList reads a list in format f. Lines are separated by "\n" (a "\r"
// before it is kept). Empty lines and lines starting with "#" (after
// spaces) are comments and kept; every other line must be an entry of f,
// else the error is a *ListError.
func ParseList(data []byte, f ListFormat) (*List, error) {
	if !f.valid() {
		return nil, fmt.Errorf("list format %v: want nginx map, HAProxy ACL or SHA-256 list", f)
	}
	l := &List{format: f}
	if len(data) == 0 {
		return l, nil
	}
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	var pending []string // a certificate comment block not yet matched
	var pendingCert *x509.Certificate
	inBlock := false
	flush := func() {
		for _, p := range pending {
			l.items = append(l.items, item{lines: []string{p}})
		}
		pending, pendingCert, inBlock = nil, nil, false
	}
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "#"):
			body := strings.TrimSpace(strings.TrimPrefix(t, "#"))
			switch {
			case strings.HasPrefix(t, strings.TrimSpace(certHeader)+" ") && !inBlock:
				flush()
				pending = []string{line}
			case body == "-----BEGIN CERTIFICATE-----" && len(pending) == 1 && pendingCert == nil && !inBlock:
				inBlock = true
				pending = append(pending, line)
			case inBlock:
				pending = append(pending, line)
				if body == "-----END CERTIFICATE-----" {
					inBlock = false
					pendingCert = decodeBlock(pending[1:])
					if pendingCert == nil {
						flush()
					}
				}
			default:
				flush()
				l.items = append(l.items, item{lines: []string{line}})
			}
		case t == "":
			flush()
			l.items = append(l.items, item{lines: []string{line}})
		default:
			d, ok := parseEntry(t, f)
			if !ok {
				return nil, &ListError{Line: i + 1, Found: cut(line, 80), Format: f}
			}
			if pendingCert != nil && !inBlock && f.digest(pendingCert) == d {
				l.items = append(l.items, item{lines: append(pending, line), digest: d, cert: pendingCert})
				pending, pendingCert = nil, nil
				continue
			}
			flush()
			l.items = append(l.items, item{lines: []string{line}, digest: d})
		}
	}
	flush()
	return l, nil
}

// decodeBlock reads the certificate of comment lines "# -----BEGIN ..." to
// "# -----END ...", or returns nil.
func decodeBlock(lines []string) *x509.Certificate {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#")))
		b.WriteByte('\n')
	}
	blk, rest := pem.Decode([]byte(b.String()))
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return nil
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil
	}
	return c
}

// parseEntry reads the digest of an entry line (spaces trimmed).
func parseEntry(t string, f ListFormat) (string, bool) {
	switch f {
	case NginxMap:
		// "<hex> 1;" with an optional trailing comment.
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = strings.TrimSpace(t[:i])
		}
		body, ok := strings.CutSuffix(t, ";")
		if !ok {
			return "", false
		}
		fields := strings.Fields(body)
		if len(fields) != 2 || fields[1] != "1" || !isHex(fields[0], 40) {
			return "", false
		}
		return strings.ToLower(fields[0]), true
	case HAProxyACL:
		if !isHex(t, 40) {
			return "", false
		}
		return strings.ToLower(t), true
	default:
		fp, err := keystore.ParseFingerprint(t)
		if err != nil {
			return "", false
		}
		return fp.Hex(), true
	}
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Format returns the list's format.
func (l *List) Format() ListFormat { return l.format }

// Contains reports whether the list has an entry for c.
func (l *List) Contains(c *x509.Certificate) bool {
	d := l.format.digest(c)
	for _, it := range l.items {
		if it.digest == d {
			return true
		}
	}
	return false
}

// Len returns the number of entries.
func (l *List) Len() int {
	n := 0
	for _, it := range l.items {
		if it.digest != "" {
			n++
		}
	}
	return n
}

// Certificates returns the certificates of the entries that carry one (those
// certroll added), in file order.
func (l *List) Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, it := range l.items {
		if it.cert != nil {
			out = append(out, it.cert)
		}
	}
	return out
}

// Add makes the list accept c and reports whether it changed: an entry is
// appended with c's certificate block, or an entry without a certificate
// block gets one (so that the receiver can name the certificate later).
func (l *List) Add(c *x509.Certificate) bool {
	d := l.format.digest(c)
	for i, it := range l.items {
		if it.digest != d {
			continue
		}
		if it.cert != nil {
			return false
		}
		l.items[i] = item{lines: append(certLines(c), it.lines...), digest: d, cert: c}
		return true
	}
	l.items = append(l.items, item{lines: append(certLines(c), l.format.Key(c)), digest: d, cert: c})
	return true
}

// Remove removes every entry for c (with its certificate block) and
// reports whether there was one.
func (l *List) Remove(c *x509.Certificate) bool {
	d := l.format.digest(c)
	kept := l.items[:0]
	removed := false
	for _, it := range l.items {
		if it.digest == d {
			removed = true
			continue
		}
		kept = append(kept, it)
	}
	l.items = kept
	return removed
}

// certLines is the comment block naming and holding c.
func certLines(c *x509.Certificate) []string {
	lines := []string{fmt.Sprintf("%s%s; SHA-256 %s", certHeader, oneLine(c.Subject.String()), keystore.CertFingerprint(c))}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	for _, pl := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
		lines = append(lines, "# "+pl)
	}
	return lines
}

// oneLine keeps a subject from breaking the comment line it is printed on.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Marshal returns the list's file content: every line as it was read,
// entries added or removed as asked, each line ending in "\n".
func (l *List) Marshal() []byte {
	var b bytes.Buffer
	for _, it := range l.items {
		for _, line := range it.lines {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
