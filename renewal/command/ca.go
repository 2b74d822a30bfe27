package command

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// The placeholders a [CA]'s arguments may hold.
const (
	// CSRPlaceholder in an argument of [CA.Argv] is replaced by the path of
	// a file holding the certificate request (PEM). Without it the request
	// is written to the command's standard input.
	CSRPlaceholder = "{csr}"
	// OutPlaceholder in an argument of [CA.Argv] is replaced by the path of
	// a file the command writes the chain to. Without it the chain is read
	// from the command's standard output.
	OutPlaceholder = "{out}"
)

// DefaultCATimeout is how long a [CA] lets its signing command run when
// [CA.Timeout] is zero: a local openssl takes milliseconds, a CA reached over
// the network (step ca sign) seconds; two minutes allows for a slow one and
// still reports a command that hangs waiting for input.
const DefaultCATimeout = 2 * time.Minute

// caMaxOutput bounds the command output kept for an error (64 KB, enough for
// any diagnostic) and caMaxChain the chain read back (1 MiB, far more than
// any chain, so that a runaway command cannot fill memory).
const (
	caMaxOutput = 64 << 10
	caMaxChain  = 1 << 20
)

// ErrBadCSR reports a certificate request [CA.Sign] cannot hand to the
// command: not PEM, not a CERTIFICATE REQUEST, or with a bad signature.
var ErrBadCSR = errors.New("command: not a valid certificate request")

// CA is a [renewal.CA] that signs by running a command, such as
// openssl x509 -req or step ca sign, and reads the chain from what it
// writes:
//
//	ca := &command.CA{
//		Argv: []string{"openssl", "x509", "-req", "-in", "{csr}",
//			"-CA", "/etc/tenant-ca/ca.pem", "-CAkey", "/etc/tenant-ca/ca.key",
//			"-days", "365", "-out", "{out}"},
//		Pool: []*x509.Certificate{caRoot},
//	}
//
// The command runs without a shell, with the arguments as given after the
// placeholders ({csr}, {out}; also inside an argument, as in -in={csr}) are
// replaced by paths in a private temporary directory that is removed
// afterwards. The chain may be PEM, DER or PKCS#7, in any order and with
// repeats (whatever [keystore.ParseCertificates] reads); the certificate for
// the request's key is its leaf, and the rest, with [CA.Pool], complete it up
// to the root. Sign returns the chain leaf first, ending with the root.
//
// A CA is safe for concurrent use when its fields are not changed; each Sign
// runs its own command in its own directory.
type CA struct {
	// Argv is the command and its arguments; Argv[0] is looked up in PATH
	// unless it holds a slash. It must not be empty.
	Argv []string
	// Dir is the command's working directory. Empty means the current one.
	Dir string
	// Env is the command's environment, as in exec.Cmd.Env. Nil means the
	// environment of this process. Pass a CA key's passphrase this way (or
	// in a file the command reads, such as openssl's -passin file:), never
	// in Argv, which other users can see in the process list. Env never
	// appears in an error.
	Env []string
	// Timeout bounds each run, inside the context's own deadline. Zero
	// means [DefaultCATimeout].
	Timeout time.Duration
	// Pool holds the CA's intermediates and root for commands that write
	// only the leaf (openssl x509 -req does). Nil means the output must hold
	// the whole chain up to a self-signed root.
	Pool []*x509.Certificate
}

var (
	_ renewal.CA         = (*CA)(nil)
	_ renewal.Instructor = (*CA)(nil)
)

// The file names the runbook uses for the request and the reply when a
// person runs a [CA]'s command by hand.
const (
	caHandRequest = "request.csr"
	caHandReply   = "reply.pem"
)

// Instructions implements [renewal.Instructor]: for step 1 it returns the
// signing command as a person runs it by hand, with the request in
// request.csr and the reply written to reply.pem ({csr} and {out}
// replaced by those names, or the request on standard input and the reply
// from standard output), shell-quoted, after a cd to Dir if it is set.
// Env is not shown: it may hold a passphrase.
func (c *CA) Instructions(s renewal.Step) []string {
	if s.ID != renewal.StepGenerateKey || len(c.Argv) == 0 {
		return nil
	}
	lines := []string{"# With the new key's certificate request in " + caHandRequest + ", the CA signs it; the reply, in " + caHandReply + ", is installed onto the new key:"}
	if c.Dir != "" {
		lines = append(lines, "cd "+shellQuote(c.Dir))
	}
	usesCSR, usesOut := false, false
	args := make([]string, len(c.Argv))
	r := strings.NewReplacer(CSRPlaceholder, caHandRequest, OutPlaceholder, caHandReply)
	for i, a := range c.Argv {
		usesCSR = usesCSR || strings.Contains(a, CSRPlaceholder)
		usesOut = usesOut || strings.Contains(a, OutPlaceholder)
		args[i] = shellQuote(r.Replace(a))
	}
	line := strings.Join(args, " ")
	if !usesCSR {
		line += " < " + caHandRequest
	}
	if !usesOut {
		line += " > " + caHandReply
	}
	return append(lines, line)
}

// shellQuote quotes s for a POSIX shell when it needs it, so that a
// command printed in the runbook runs as the adapter runs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellLine quotes every argument of argv and joins them.
func shellLine(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// CAError reports a signing command that could not be run, failed, or wrote
// no usable chain. It carries the command's output, so that the person
// reading it sees what the CA said.
type CAError struct {
	// Argv is the command as configured, with the placeholders unreplaced.
	Argv []string
	// Op says what failed: "run", "read the chain" or "complete the chain".
	Op string
	// ExitCode is the command's exit status, -1 if it did not exit by
	// itself (killed at the timeout, or never started), 0 if it succeeded.
	ExitCode int
	// Output is the start of what the command wrote to standard error and,
	// when the chain comes from a file, standard output: at most 64 KB.
	Output []byte
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *CAError) Error() string {
	msg := fmt.Sprintf("command: signing command %q: %s: %v", strings.Join(e.Argv, " "), e.Op, e.Err)
	if out := strings.TrimSpace(string(e.Output)); out != "" {
		msg += "; output: " + out
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *CAError) Unwrap() error { return e.Err }

// Sign runs the command for csrPEM, a PEM "CERTIFICATE REQUEST" block, and
// returns the chain it issued, leaf first, ending with the CA's root. It
// implements [renewal.CA].
//
// Errors: [ErrBadCSR] for a request that does not parse or verify; a
// *[CAError] for an empty Argv, a command that cannot start, exits with an
// error, or runs past its timeout (matching context.DeadlineExceeded), an
// output that holds no certificate (matching keystore.ErrMalformed) or none
// for the request's key, and a chain that does not reach a root (matching
// chain.ErrMissingIssuer: add the missing certificate to [CA.Pool]).
func (c *CA) Sign(ctx context.Context, csrPEM []byte) ([]*x509.Certificate, error) {
	csr, err := caParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return nil, &CAError{Op: "run", ExitCode: -1,
			Err: errors.New("CA.Argv is empty: set it to the signing command, such as openssl x509 -req -in {csr} -CA ca.pem -CAkey ca.key -out {out}")}
	}
	out, err := c.run(ctx, csrPEM)
	if err != nil {
		return nil, err
	}
	certs, err := keystore.ParseCertificates(out)
	if err != nil {
		return nil, &CAError{Argv: c.Argv, Op: "read the chain", Err: err}
	}
	return c.assemble(csr, certs)
}

// run runs the command and returns the chain's bytes.
func (c *CA) run(ctx context.Context, csrPEM []byte) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultCATimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	fail := func(code int, output []byte, err error) error {
		return &CAError{Argv: c.Argv, Op: "run", ExitCode: code, Output: output, Err: err}
	}
	dir, err := os.MkdirTemp("", "certroll-ca-")
	if err != nil {
		return nil, fail(-1, nil, fmt.Errorf("temporary directory: %w", err))
	}
	defer os.RemoveAll(dir)
	csrPath := filepath.Join(dir, "request.csr")
	outPath := filepath.Join(dir, "chain.out")
	usesCSR, usesOut := false, false
	argv := make([]string, len(c.Argv))
	for i, a := range c.Argv {
		usesCSR = usesCSR || strings.Contains(a, CSRPlaceholder)
		usesOut = usesOut || strings.Contains(a, OutPlaceholder)
		argv[i] = strings.NewReplacer(CSRPlaceholder, csrPath, OutPlaceholder, outPath).Replace(a)
	}
	if usesCSR {
		if err := os.WriteFile(csrPath, csrPEM, 0o600); err != nil {
			return nil, fail(-1, nil, fmt.Errorf("write the request: %w", err))
		}
	}

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	// A command that leaves a child holding its output open must not hold
	// Sign past the timeout.
	cmd.WaitDelay = 5 * time.Second
	if !usesCSR {
		cmd.Stdin = bytes.NewReader(csrPEM)
	}
	diag := &caBoundedBuffer{max: caMaxOutput}
	stdout := &caBoundedBuffer{max: caMaxChain}
	cmd.Stderr = diag
	if usesOut {
		cmd.Stdout = diag
	} else {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Exited() {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %v: %w", timeout, ctx.Err())
		}
		out := diag.Bytes()
		if !usesOut && len(out) == 0 {
			out = stdout.Bytes()
		}
		return nil, fail(code, out, err)
	}
	if !usesOut {
		if stdout.truncated {
			return nil, fail(0, nil, fmt.Errorf("standard output exceeds %d bytes: expected a certificate chain", caMaxChain))
		}
		return stdout.Bytes(), nil
	}
	f, err := os.Open(outPath)
	if err != nil {
		return nil, fail(0, diag.Bytes(), fmt.Errorf("the command succeeded but wrote no %s file: %w", OutPlaceholder, err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, caMaxChain+1))
	if err != nil {
		return nil, fail(0, diag.Bytes(), fmt.Errorf("read %s: %w", OutPlaceholder, err))
	}
	if len(data) > caMaxChain {
		return nil, fail(0, diag.Bytes(), fmt.Errorf("%s exceeds %d bytes: expected a certificate chain", OutPlaceholder, caMaxChain))
	}
	return data, nil
}

// assemble finds the certificate for the request's key among certs and
// completes it with the rest and c.Pool up to a root.
func (c *CA) assemble(csr *x509.CertificateRequest, certs []*x509.Certificate) ([]*x509.Certificate, error) {
	var leaf *x509.Certificate
	var rest []*x509.Certificate
	for _, cert := range certs {
		if leaf == nil && chain.KeyMatches(csr.PublicKey, cert) {
			leaf = cert
			continue
		}
		rest = append(rest, cert)
	}
	if leaf == nil {
		names := make([]string, len(certs))
		for i, cert := range certs {
			names[i] = chain.Name(cert)
		}
		return nil, &CAError{Argv: c.Argv, Op: "read the chain",
			Err: fmt.Errorf("no certificate for the request's key among %d certificates (%s): the command must sign the request it was given", len(certs), strings.Join(names, ", "))}
	}
	pool := append(rest, c.Pool...)
	path, anchor, err := chain.Complete([]*x509.Certificate{leaf}, pool)
	if err != nil {
		return nil, &CAError{Argv: c.Argv, Op: "complete the chain",
			Err: fmt.Errorf("%w (add the CA's intermediates and root to CA.Pool when the command writes only the leaf)", err)}
	}
	if anchor != nil && (len(path) == 0 || path[len(path)-1] != anchor) {
		path = append(path, anchor)
	}
	return path, nil
}

// caParseCSR decodes and checks a PEM certificate request.
func caParseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return nil, fmt.Errorf("%w: expected a PEM \"CERTIFICATE REQUEST\" block, found no PEM block in %d bytes", ErrBadCSR, len(csrPEM))
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("%w: expected a PEM \"CERTIFICATE REQUEST\" block, found %q", ErrBadCSR, block.Type)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: its signature does not verify: %w", ErrBadCSR, err)
	}
	return csr, nil
}

// caBoundedBuffer keeps the first max bytes written to it and discards the
// rest, noting that it did, so that a command's output cannot fill memory.
type caBoundedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *caBoundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *caBoundedBuffer) Bytes() []byte { return b.buf.Bytes() }
