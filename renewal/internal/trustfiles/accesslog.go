package trustfiles

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/certroll/certroll/keystore"
)

// AccessLogError reports an access log that cannot tell when a certificate
// was last seen: missing, unreadable, or holding no line of the expected
// format.
type AccessLogError struct {
	Prefix string // the adapter's package name
	Path   string // the log file
	Want   string // the log format expected, as the user configures it
	Found  string // the first line that is not in that format, cut; "" if none
	Err    error  // the read error, if any
}

// Error says what was expected and what was found.
func (e *AccessLogError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: access log %q: %v: log the handshakes with %s", e.Prefix, e.Path, e.Err, e.Want)
	}
	return fmt.Sprintf("%s: access log %q has no line in the expected format (first line: %q): log the handshakes with %s", e.Prefix, e.Path, e.Found, e.Want)
}

// Unwrap returns the read error.
func (e *AccessLogError) Unwrap() error { return e.Err }

// maxLogLine bounds one line of an access log; longer lines are skipped.
const maxLogLine = 64 << 10

// LastSeen scans the access log at path for lines "TIME FINGERPRINT ..."
// (TIME in RFC 3339, as nginx's $time_iso8601 prints it; FINGERPRINT the
// certificate's SHA-1 in hex, either case, as nginx's
// $ssl_client_fingerprint and HAProxy's %[ssl_c_sha1,hex] print it, or its
// SHA-256 in any form keystore.ParseFingerprint reads) and returns the
// latest time leaf was presented. Lines of other forms are skipped; a log
// with lines but none of this form is an *AccessLogError (the log_format is
// not the documented one), as is a missing log. want describes the
// expected log format for that error.
//
// A log that names leaf nowhere does not show that leaf was never
// presented: only that it was not since the log began, and a log rotated
// or emptied a moment ago covers a moment. So LastSeen is conservative and
// then returns the log's start as "possibly seen then": the time of its
// first line of the expected form, or, for a log without lines, its
// modification time (when it was created or emptied). The drain gate then
// waits a drain period after a rotation; a log that began longer ago than
// that passes it as the zero time would.
func LastSeen(prefix, path, want string, leaf *x509.Certificate) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fs.ErrNotExist
		}
		return time.Time{}, &AccessLogError{Prefix: prefix, Path: path, Want: want, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return time.Time{}, &AccessLogError{Prefix: prefix, Path: path, Want: want, Err: err}
	}
	last, start, first, err := scanLog(f, leaf)
	if err != nil {
		return time.Time{}, &AccessLogError{Prefix: prefix, Path: path, Want: want, Err: err}
	}
	switch {
	case start.IsZero() && first != "":
		return time.Time{}, &AccessLogError{Prefix: prefix, Path: path, Want: want, Found: cut(first, 80)}
	case !last.IsZero():
		return last, nil
	case !start.IsZero():
		return start, nil // not seen since the log began
	default:
		return st.ModTime(), nil // an empty log: not seen since it was created or emptied
	}
}

// scanLog returns the latest time of a line naming leaf, the time of the
// first line of the expected form (zero if none is), and the first
// non-empty line.
func scanLog(r io.Reader, leaf *x509.Certificate) (last, start time.Time, first string, err error) {
	sha1 := sha1Hex(leaf)
	sha256 := keystore.CertFingerprint(leaf)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, rerr := readLine(br)
		if line != "" {
			if first == "" {
				first = line
			}
			if t, fp, good := parseLogLine(line); good {
				if start.IsZero() {
					start = t
				}
				match := strings.EqualFold(fp, sha1)
				if !match && len(fp) != 40 {
					if p, err := keystore.ParseFingerprint(fp); err == nil && p == sha256 {
						match = true
					}
				}
				if match && t.After(last) {
					last = t
				}
			}
		}
		if rerr == io.EOF {
			return last, start, first, nil
		}
		if rerr != nil {
			return last, start, first, rerr
		}
	}
}

// readLine reads one line, returning "" for a line longer than maxLogLine.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	long := false
	for {
		frag, err := br.ReadSlice('\n')
		if len(b)+len(frag) > maxLogLine {
			long = true
		} else {
			b = append(b, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if long {
			return "", err
		}
		return strings.TrimSpace(string(b)), err
	}
}

// parseLogLine reads "TIME FINGERPRINT ...": fingerprint "-" or "" (no
// certificate) gives good with an empty fp.
func parseLogLine(line string) (t time.Time, fp string, good bool) {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return time.Time{}, "", false
	}
	t, err := time.Parse(time.RFC3339, fields[0])
	if err != nil {
		return time.Time{}, "", false
	}
	fp = fields[1]
	if fp == "-" {
		fp = ""
	}
	return t, fp, true
}
