package command

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// NodePlaceholder in an argument of a [Node]'s commands is replaced by the
// node's name when the command runs, so that one set of commands serves
// every node: {"systemctl", "restart", "flow@{node}"}.
const NodePlaceholder = "{node}"

// DefaultRuntimeTimeout is how long a [Runtime] lets a node's command run
// when [RuntimeConfig.Timeout] is zero: a systemctl restart of a JVM
// service, or a kubectl rollout, takes tens of seconds; two minutes allows
// for a slow one and still reports a command that hangs.
const DefaultRuntimeTimeout = 2 * time.Minute

// rtMaxOutput bounds what a [Runtime] keeps of each output stream of a
// command: 64 KiB holds any diagnostic and any certificate chain.
const rtMaxOutput = 64 << 10

// Node is one runtime node and the commands that control it. Each command
// is an argument vector, run without a shell; an argument may hold
// [NodePlaceholder].
type Node struct {
	// Name names the node, as the renewal plan does ("node-1").
	Name string
	// Stop stops the flow on the node, such as {"systemctl", "stop",
	// "flow@{node}"}. Stopping a stopped node must succeed. Required.
	Stop []string
	// Start starts the flow on the node, which then reads the keystore
	// afresh. Starting a running node must succeed. Required.
	Start []string
	// Restart restarts the flow on the node, such as {"kubectl",
	// "rollout", "restart", "deployment/flow"}. Nil means Stop, then
	// Start.
	Restart []string
	// Presents prints what the node presents now, on standard output:
	// the client certificate in PEM (leaf first; the first certificate
	// counts), or its SHA-256 fingerprint in any form
	// [keystore.ParseFingerprint] reads ("openssl x509 -noout
	// -fingerprint -sha256" prints one), or nothing (or the word
	// "stopped") when the node is stopped. A fingerprint is looked up in
	// [RuntimeConfig.Known]. Required.
	Presents []string
}

// RuntimeConfig configures a [Runtime]. Nodes is required; the zero value
// of every other field is documented.
type RuntimeConfig struct {
	// Nodes are the runtime's nodes, in the order [Runtime.Nodes] lists
	// them. Names must be unique.
	Nodes []Node
	// Timeout bounds each command. Zero means [DefaultRuntimeTimeout].
	Timeout time.Duration
	// Dir is the working directory of the commands. Empty means this
	// process's.
	Dir string
	// Env, if not nil, is the environment of the commands (as
	// exec.Cmd.Env); nil means this process's environment.
	Env []string
	// Known returns the certificates a Presents command's fingerprint may
	// name, such as the old and the new client certificate (see
	// [KnownCertificates]). Nil means only PEM output can be used.
	Known func(ctx context.Context) ([]*x509.Certificate, error)
}

// KnownCertificates returns a [RuntimeConfig.Known] function that always
// offers certs.
func KnownCertificates(certs ...*x509.Certificate) func(context.Context) ([]*x509.Certificate, error) {
	certs = slices.Clone(certs)
	return func(context.Context) ([]*x509.Certificate, error) { return certs, nil }
}

// Runtime is a [renewal.Runtime] that controls each node by the
// administrator's commands: systemctl, kubectl, a script around the
// runtime's own tooling. Commands run with no standard input, with the
// configured timeout, and with at most 64 KiB of each of their standard
// output and standard error kept; a command that fails is reported as a
// [*NodeCommandError] with its output. A Runtime is safe for concurrent
// use; the commands of one node never run at the same time.
type Runtime struct {
	cfg   RuntimeConfig
	names []string
	nodes map[string]*rtNode
}

type rtNode struct {
	Node
	mu sync.Mutex // serializes this node's commands
}

var (
	_ renewal.Runtime    = (*Runtime)(nil)
	_ renewal.Instructor = (*Runtime)(nil)
)

// Instructions implements [renewal.Instructor]: each node's commands as a
// person runs them by hand, shell-quoted with {node} replaced. For the
// restart step (overlap 7) the restart command of each node (or its stop
// and start commands); for the downtime sequence's restart (step 11, after
// the flow was stopped) the start commands; for stopping the flow
// (downtime 4) the stop commands. Each is followed by the presents
// commands that show what the nodes present, the check of the step's
// gate. Environment and working directory are not shown.
func (r *Runtime) Instructions(s renewal.Step) []string {
	var lines []string
	each := func(cmds func(n *rtNode) [][]string) {
		for _, name := range r.names {
			for _, argv := range cmds(r.nodes[name]) {
				lines = append(lines, shellLine(rtExpand(argv, name)))
			}
		}
	}
	start := func(n *rtNode) [][]string { return [][]string{n.Start} }
	switch {
	case s.ID == renewal.StepRestartNodes && s.Number == 11:
		lines = append(lines, "# Start the flow on every node (it was stopped in step 4):")
		each(start)
	case s.ID == renewal.StepRestartNodes:
		lines = append(lines, "# Restart the flow on every node:")
		each(func(n *rtNode) [][]string {
			if n.Restart != nil {
				return [][]string{n.Restart}
			}
			return [][]string{n.Stop, n.Start}
		})
	case s.ID == renewal.StepStopFlow:
		lines = append(lines, "# Stop the flow on every node:")
		each(func(n *rtNode) [][]string { return [][]string{n.Stop} })
	default:
		return nil
	}
	if s.ID == renewal.StepStopFlow {
		lines = append(lines, "# Check that no node presents a certificate any more (each prints nothing, or \"stopped\"):")
	} else {
		lines = append(lines, "# Check that every node presents the new certificate (each prints it, or its SHA-256 fingerprint):")
	}
	each(func(n *rtNode) [][]string { return [][]string{n.Presents} })
	return lines
}

// RuntimeConfigError reports a [RuntimeConfig] that cannot work.
type RuntimeConfigError struct {
	// Node names the node whose commands are wrong; empty for the
	// configuration as a whole.
	Node string
	// Field names the field, such as "Start".
	Field string
	// Problem says what is wrong and what to do.
	Problem string
}

// Error says what went wrong and what to do.
func (e *RuntimeConfigError) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("command: RuntimeConfig.%s: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("command: node %q: Node.%s: %s", e.Node, e.Field, e.Problem)
}

// ErrUnknownNode reports a node name a [Runtime] does not have.
// [*UnknownNodeError] matches it with [errors.Is].
var ErrUnknownNode = errors.New("command: unknown node")

// UnknownNodeError reports a node name a [Runtime] does not have.
type UnknownNodeError struct {
	// Node is the name asked for.
	Node string
	// Nodes are the runtime's node names.
	Nodes []string
}

// Error says what went wrong and what to do.
func (e *UnknownNodeError) Error() string {
	return fmt.Sprintf("command: no node %q: the runtime's nodes are %s", e.Node, strings.Join(e.Nodes, ", "))
}

// Is reports whether target is [ErrUnknownNode].
func (e *UnknownNodeError) Is(target error) bool { return target == ErrUnknownNode }

// NodeCommandError reports a node's command that could not run, exited
// with a non-zero status, or did not finish within the timeout.
type NodeCommandError struct {
	// Node names the node.
	Node string
	// Action is "stop", "start", "restart" or "presents".
	Action string
	// Argv is the command as run (placeholders replaced).
	Argv []string
	// ExitCode is the command's exit status, or -1 if it did not exit
	// by itself (it could not start, or was killed at the timeout).
	ExitCode int
	// Stdout and Stderr are the start of the command's output, at most
	// 64 KiB each.
	Stdout, Stderr string
	// Err is the underlying error: from exec, or context.DeadlineExceeded
	// when the timeout ended the command.
	Err error
}

// Error says what went wrong and what to do.
func (e *NodeCommandError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command: node %q: %s command %s ", e.Node, e.Action, rtQuoteArgv(e.Argv))
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded):
		b.WriteString("did not finish in time (RuntimeConfig.Timeout, or the caller's deadline)")
	case e.ExitCode > 0:
		fmt.Fprintf(&b, "exited with status %d", e.ExitCode)
	default:
		fmt.Fprintf(&b, "failed: %v", e.Err)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		fmt.Fprintf(&b, "; standard error:\n%s", s)
	}
	if s := strings.TrimSpace(e.Stdout); s != "" {
		fmt.Fprintf(&b, "\nstandard output:\n%s", s)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *NodeCommandError) Unwrap() error { return e.Err }

// PresentsOutputError reports output of a Presents command that names no
// certificate [Runtime.Presents] can return.
type PresentsOutputError struct {
	// Node names the node.
	Node string
	// Argv is the command as run.
	Argv []string
	// Output is the start of its standard output.
	Output string
	// Problem says what was expected and what was found.
	Problem string
}

// Error says what went wrong and what to do.
func (e *PresentsOutputError) Error() string {
	return fmt.Sprintf("command: node %q: presents command %s: %s; its output was %q", e.Node, rtQuoteArgv(e.Argv), e.Problem, rtShorten(e.Output, 200))
}

// NewRuntime checks cfg and returns the runtime. It runs no command.
func NewRuntime(cfg RuntimeConfig) (*Runtime, error) {
	if len(cfg.Nodes) == 0 {
		return nil, &RuntimeConfigError{Field: "Nodes", Problem: "empty: give every node of the runtime with its commands"}
	}
	if cfg.Timeout < 0 {
		return nil, &RuntimeConfigError{Field: "Timeout", Problem: fmt.Sprintf("%v: want a positive duration, or 0 for %v", cfg.Timeout, DefaultRuntimeTimeout)}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultRuntimeTimeout
	}
	r := &Runtime{nodes: make(map[string]*rtNode, len(cfg.Nodes))}
	for i, n := range cfg.Nodes {
		if n.Name == "" {
			return nil, &RuntimeConfigError{Field: fmt.Sprintf("Nodes[%d].Name", i), Problem: "empty: name the node as the plan does"}
		}
		if _, dup := r.nodes[n.Name]; dup {
			return nil, &RuntimeConfigError{Field: fmt.Sprintf("Nodes[%d].Name", i), Problem: fmt.Sprintf("%q is given twice", n.Name)}
		}
		for _, c := range []struct {
			field    string
			argv     []string
			required bool
		}{{"Stop", n.Stop, true}, {"Start", n.Start, true}, {"Restart", n.Restart, false}, {"Presents", n.Presents, true}} {
			if len(c.argv) == 0 {
				if c.required {
					return nil, &RuntimeConfigError{Node: n.Name, Field: c.field, Problem: "empty: give the command as an argument vector, such as {\"systemctl\", \"restart\", \"flow@{node}\"}"}
				}
				continue
			}
			if c.argv[0] == "" {
				return nil, &RuntimeConfigError{Node: n.Name, Field: c.field, Problem: "the program (the first argument) is empty"}
			}
		}
		n.Stop, n.Start, n.Restart, n.Presents = slices.Clone(n.Stop), slices.Clone(n.Start), slices.Clone(n.Restart), slices.Clone(n.Presents)
		r.names = append(r.names, n.Name)
		r.nodes[n.Name] = &rtNode{Node: n}
	}
	cfg.Nodes = nil // kept per node
	cfg.Env = slices.Clone(cfg.Env)
	r.cfg = cfg
	return r, nil
}

// Nodes returns the node names in the configured order.
func (r *Runtime) Nodes(ctx context.Context) ([]string, error) { return slices.Clone(r.names), nil }

func (r *Runtime) node(name string) (*rtNode, error) {
	n, ok := r.nodes[name]
	if !ok {
		return nil, &UnknownNodeError{Node: name, Nodes: slices.Clone(r.names)}
	}
	return n, nil
}

// Stop runs node's Stop command.
func (r *Runtime) Stop(ctx context.Context, name string) error {
	return r.control(ctx, name, "stop")
}

// Start runs node's Start command.
func (r *Runtime) Start(ctx context.Context, name string) error {
	return r.control(ctx, name, "start")
}

// Restart runs node's Restart command, or its Stop command and then its
// Start command if it has none.
func (r *Runtime) Restart(ctx context.Context, name string) error {
	return r.control(ctx, name, "restart")
}

func (r *Runtime) control(ctx context.Context, name, action string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch action {
	case "stop":
		_, err = r.run(ctx, n, "stop", n.Stop)
	case "start":
		_, err = r.run(ctx, n, "start", n.Start)
	case "restart":
		if n.Restart != nil {
			_, err = r.run(ctx, n, "restart", n.Restart)
			break
		}
		if _, err = r.run(ctx, n, "stop", n.Stop); err == nil {
			_, err = r.run(ctx, n, "start", n.Start)
		}
	}
	return err
}

// Presents runs node's Presents command and returns the certificate it
// names, or nil if it prints nothing (or "stopped"): the node is stopped.
// Output that names no certificate is a [*PresentsOutputError].
func (r *Runtime) Presents(ctx context.Context, name string) (*x509.Certificate, error) {
	n, err := r.node(name)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	out, err := r.run(ctx, n, "presents", n.Presents)
	n.mu.Unlock()
	if err != nil {
		return nil, err
	}
	argv := rtExpand(n.Presents, n.Name)
	bad := func(problem string) error {
		return &PresentsOutputError{Node: n.Name, Argv: argv, Output: string(out), Problem: problem}
	}
	text := strings.TrimSpace(string(out))
	if text == "" || strings.EqualFold(text, "stopped") {
		return nil, nil
	}
	if len(out) >= rtMaxOutput {
		return nil, bad(fmt.Sprintf("more than %d bytes of output: want one certificate or fingerprint", rtMaxOutput))
	}
	if strings.Contains(text, "-----BEGIN") {
		certs, err := keystore.ParseCertificates(out)
		if err != nil {
			return nil, bad(fmt.Sprintf("want a PEM certificate, found one that does not parse: %v", err))
		}
		if len(certs) == 0 {
			return nil, bad("want a PEM certificate, found PEM without a CERTIFICATE block")
		}
		return certs[0], nil
	}
	line, _, _ := strings.Cut(text, "\n")
	fp, err := keystore.ParseFingerprint(strings.TrimSpace(line))
	if err != nil {
		return nil, bad("want a PEM certificate, a SHA-256 fingerprint (\"AB:CD:...\" or 64 hex digits), or nothing for a stopped node")
	}
	if r.cfg.Known == nil {
		return nil, bad(fmt.Sprintf("it printed fingerprint %s, but RuntimeConfig.Known is nil: give the certificates it may name, or make the command print the PEM", fp))
	}
	known, err := r.cfg.Known(ctx)
	if err != nil {
		return nil, fmt.Errorf("command: node %q: listing the known certificates: %w", n.Name, err)
	}
	for _, c := range known {
		if c != nil && keystore.CertFingerprint(c) == fp {
			return c, nil
		}
	}
	return nil, bad(fmt.Sprintf("it printed fingerprint %s, which is none of the %d certificates RuntimeConfig.Known gives", fp, len(known)))
}

// run runs argv for node n with the timeout, no standard input and bounded
// output, and returns its standard output.
func (r *Runtime) run(ctx context.Context, n *rtNode, action string, argv []string) ([]byte, error) {
	argv = rtExpand(argv, n.Name)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = r.cfg.Dir
	cmd.Env = r.cfg.Env
	// A child that keeps the output pipes open (a daemon the start script
	// forks) must not keep Run waiting after the command itself exits.
	cmd.WaitDelay = 5 * time.Second
	stdout := &rtBoundedBuffer{max: rtMaxOutput}
	stderr := &rtBoundedBuffer{max: rtMaxOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if err == nil || (errors.Is(err, exec.ErrWaitDelay) && ctx.Err() == nil) {
		// ErrWaitDelay alone: the command exited 0, but a child kept its
		// output open.
		return stdout.buf.Bytes(), nil
	}
	e := &NodeCommandError{Node: n.Name, Action: action, Argv: argv, ExitCode: -1,
		Stdout: stdout.buf.String(), Stderr: stderr.buf.String(), Err: err}
	if ctx.Err() != nil {
		e.Err = fmt.Errorf("%w (after %v)", context.DeadlineExceeded, r.cfg.Timeout)
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.Err = ctx.Err()
		}
		return nil, e
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		e.ExitCode = ee.ExitCode()
	}
	return nil, e
}

// rtExpand replaces NodePlaceholder in every argument of argv.
func rtExpand(argv []string, node string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, NodePlaceholder, node)
	}
	return out
}

func rtQuoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, " ") + "]"
}

func rtShorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// rtBoundedBuffer keeps the first max bytes written to it and drops the
// rest, so that a runaway command cannot fill the memory.
type rtBoundedBuffer struct {
	max int
	buf bytes.Buffer
}

func (b *rtBoundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
