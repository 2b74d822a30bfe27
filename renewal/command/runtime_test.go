package command

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// rtNeed returns the path of program, failing the test in CI (which
// installs it) and skipping it elsewhere when it is missing.
func rtNeed(t *testing.T, program, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not on PATH; install it: apt-get install -y %s", program, pkg)
		}
		t.Skipf("%s is not on PATH; install it: apt-get install -y %s", program, pkg)
	}
	return p
}

// rtNodeScript is a runtime node controlled by a script, as systemctl
// controls a service: "start" copies the keystore (current.pem) into the
// node's cache, which "presents" prints with openssl until "stop" or
// "restart". Every call is appended to the file calls.
const rtNodeScript = `#!/bin/sh
set -eu
dir=$(dirname "$0")
echo "$1 $2" >> "$dir/calls"
case "$1" in
start)
	if [ ! -f "$dir/$2.cache" ]; then cp "$dir/current.pem" "$dir/$2.cache"; fi ;;
stop)
	rm -f "$dir/$2.cache" ;;
restart)
	rm -f "$dir/$2.cache"; cp "$dir/current.pem" "$dir/$2.cache" ;;
presents)
	if [ -f "$dir/$2.cache" ]; then exec openssl x509 -in "$dir/$2.cache"; fi ;;
fingerprint)
	if [ -f "$dir/$2.cache" ]; then exec openssl x509 -in "$dir/$2.cache" -noout -fingerprint -sha256; fi ;;
fail)
	echo "Failed to restart flow@$2.service: Unit flow@$2.service not found." >&2; exit 5 ;;
esac
`

// rtLandscape writes the node script and the current keystore (leaf) into
// a new directory and returns the script's path.
func rtLandscape(t *testing.T, leaf *x509.Certificate) (dir, script string) {
	t.Helper()
	dir = t.TempDir()
	script = filepath.Join(dir, "node.sh")
	require.NoError(t, os.WriteFile(script, []byte(rtNodeScript), 0o755))
	rtSetCurrent(t, dir, leaf)
	return dir, script
}

func rtSetCurrent(t *testing.T, dir string, leaf *x509.Certificate) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "current.pem"), testpki.PEM(leaf), 0o644))
}

func rtCalls(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "calls"))
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func rtScriptNode(name, script string, restart bool) Node {
	n := Node{
		Name:     name,
		Stop:     []string{script, "stop", NodePlaceholder},
		Start:    []string{script, "start", NodePlaceholder},
		Presents: []string{script, "presents", NodePlaceholder},
	}
	if restart {
		n.Restart = []string{script, "restart", "{node}"}
	}
	return n
}

func rtLeaves(t *testing.T) (oldLeaf, newLeaf *x509.Certificate) {
	t.Helper()
	return testpki.NewRoot(t, "old root").Leaf(t, "tenant").Cert, testpki.NewRoot(t, "new root").Leaf(t, "tenant").Cert
}

// TestRuntimeCommands runs a renewal's node operations through real
// commands: a script that caches the keystore at start, and openssl
// printing the certificate the node presents.
func TestRuntimeCommands(t *testing.T) {
	rtNeed(t, "openssl", "openssl")
	oldLeaf, newLeaf := rtLeaves(t)
	dir, script := rtLandscape(t, oldLeaf)
	rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{
		rtScriptNode("node-1", script, false), // restart is stop, then start
		rtScriptNode("node-2", script, true),
	}})
	require.NoError(t, err)
	ctx := context.Background()

	nodes, err := rt.Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"node-1", "node-2"}, nodes)

	c, err := rt.Presents(ctx, "node-1")
	require.NoError(t, err)
	assert.Nil(t, c, "a stopped node presents nothing")

	for _, n := range nodes {
		require.NoError(t, rt.Start(ctx, n))
		c, err := rt.Presents(ctx, n)
		require.NoError(t, err)
		require.NotNil(t, c)
		assert.True(t, c.Equal(oldLeaf), "%s presents the old certificate", n)
	}

	rtSetCurrent(t, dir, newLeaf) // the keystore entry is replaced
	c, err = rt.Presents(ctx, "node-1")
	require.NoError(t, err)
	assert.True(t, c.Equal(oldLeaf), "the node caches the keystore until it restarts")

	for _, n := range nodes {
		require.NoError(t, rt.Restart(ctx, n))
		c, err := rt.Presents(ctx, n)
		require.NoError(t, err)
		require.NotNil(t, c)
		assert.True(t, c.Equal(newLeaf), "%s presents the new certificate after its restart", n)
	}

	require.NoError(t, rt.Stop(ctx, "node-1"))
	c, err = rt.Presents(ctx, "node-1")
	require.NoError(t, err)
	assert.Nil(t, c)

	assert.Equal(t, []string{
		"presents node-1",
		"start node-1", "presents node-1",
		"start node-2", "presents node-2",
		"presents node-1",
		"stop node-1", "start node-1", "presents node-1",
		"restart node-2", "presents node-2",
		"stop node-1", "presents node-1",
	}, rtCalls(t, dir))
}

// TestRuntimeFingerprint: a Presents command that prints a fingerprint
// (openssl's "sha256 Fingerprint=AB:...") names one of the known
// certificates.
func TestRuntimeFingerprint(t *testing.T) {
	rtNeed(t, "openssl", "openssl")
	oldLeaf, newLeaf := rtLeaves(t)
	_, script := rtLandscape(t, oldLeaf)
	node := rtScriptNode("node-1", script, false)
	node.Presents = []string{script, "fingerprint", "{node}"}
	ctx := context.Background()

	tests := []struct {
		name    string
		known   func(context.Context) ([]*x509.Certificate, error)
		want    *x509.Certificate
		problem string
	}{
		{"known", KnownCertificates(newLeaf, oldLeaf), oldLeaf, ""},
		{"no Known", nil, nil, "RuntimeConfig.Known is nil"},
		{"not among Known", KnownCertificates(newLeaf), nil, "none of the 1 certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{node}, Known: tt.known})
			require.NoError(t, err)
			require.NoError(t, rt.Start(ctx, "node-1"))
			t.Cleanup(func() { _ = rt.Stop(ctx, "node-1") })
			c, err := rt.Presents(ctx, "node-1")
			if tt.problem == "" {
				require.NoError(t, err)
				assert.True(t, c.Equal(tt.want))
				return
			}
			var pe *PresentsOutputError
			require.ErrorAs(t, err, &pe)
			assert.Contains(t, pe.Problem, tt.problem)
			assert.Contains(t, pe.Output, "Fingerprint=")
			assert.Nil(t, c)
		})
	}
}

// TestRuntimeCommandFails: a failing command's exit status and output
// reach the caller in a typed error.
func TestRuntimeCommandFails(t *testing.T) {
	_, script := rtLandscape(t, testpki.NewRoot(t, "root").Leaf(t, "tenant").Cert)
	node := rtScriptNode("node-1", script, false)
	node.Start = []string{script, "fail", "{node}"}
	rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{node}})
	require.NoError(t, err)

	err = rt.Restart(context.Background(), "node-1")
	var ce *NodeCommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "node-1", ce.Node)
	assert.Equal(t, "start", ce.Action, "the stop half of the restart passed")
	assert.Equal(t, []string{script, "fail", "node-1"}, ce.Argv)
	assert.Equal(t, 5, ce.ExitCode)
	assert.Contains(t, ce.Stderr, "Unit flow@node-1.service not found")
	assert.True(t, strings.HasPrefix(err.Error(), `command: node "node-1": start command [`), err.Error())
	assert.Contains(t, err.Error(), "exited with status 5")

	err = rt.Start(context.Background(), "node-9")
	assert.ErrorIs(t, err, ErrUnknownNode)
	assert.Contains(t, err.Error(), `"node-9"`)

	missing := Node{Name: "node-1", Stop: []string{filepath.Join(t.TempDir(), "no-such-program")},
		Start: []string{"true"}, Presents: []string{"true"}}
	rt, err = NewRuntime(RuntimeConfig{Nodes: []Node{missing}})
	require.NoError(t, err)
	err = rt.Stop(context.Background(), "node-1")
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, -1, ce.ExitCode)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestRuntimeTimeout: a command that hangs is ended at the timeout and
// reported as such.
func TestRuntimeTimeout(t *testing.T) {
	rtNeed(t, "sleep", "coreutils")
	node := Node{Name: "node-1", Stop: []string{"sleep", "60"}, Start: []string{"true"}, Presents: []string{"true"}}
	rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{node}, Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	err = rt.Stop(context.Background(), "node-1")
	var ce *NodeCommandError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, -1, ce.ExitCode)
	assert.Contains(t, err.Error(), "did not finish in time")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = rt.Stop(ctx, "node-1")
	assert.ErrorIs(t, err, context.Canceled)
}

// TestRuntimeNoShell: arguments reach the program as they are, never
// through a shell.
func TestRuntimeNoShell(t *testing.T) {
	rtNeed(t, "echo", "coreutils")
	dir := t.TempDir()
	node := Node{Name: "node-1",
		Start:    []string{"echo", "$(touch pwned)", ";", "touch", "pwned2", "`touch pwned3`"},
		Stop:     []string{"echo", "stopped"},
		Presents: []string{"echo", "stopped"},
	}
	rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{node}, Dir: dir})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, rt.Start(ctx, "node-1"))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no shell ran the arguments")

	c, err := rt.Presents(ctx, "node-1")
	require.NoError(t, err)
	assert.Nil(t, c, `"stopped" means a stopped node`)

	node.Presents = []string{"echo", "node-1 is up"}
	rt, err = NewRuntime(RuntimeConfig{Nodes: []Node{node}})
	require.NoError(t, err)
	_, err = rt.Presents(ctx, "node-1")
	var pe *PresentsOutputError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, err.Error(), `"node-1 is up\n"`)
	assert.Contains(t, pe.Problem, "want a PEM certificate, a SHA-256 fingerprint")
}

// TestRuntimeOutputBounded: a command's output is kept up to 64 KiB a
// stream.
func TestRuntimeOutputBounded(t *testing.T) {
	sh := rtNeed(t, "sh", "dash")
	flood := "head -c 1000000 /dev/zero | tr '\\0' x; head -c 1000000 /dev/zero | tr '\\0' y >&2; exit "
	node := Node{Name: "node-1",
		Stop:     []string{sh, "-c", flood + "1"},
		Start:    []string{"true"},
		Presents: []string{sh, "-c", flood + "0"},
	}
	rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{node}})
	require.NoError(t, err)
	ctx := context.Background()

	err = rt.Stop(ctx, "node-1")
	var ce *NodeCommandError
	require.ErrorAs(t, err, &ce)
	assert.Len(t, ce.Stdout, 64<<10)
	assert.Len(t, ce.Stderr, 64<<10)
	assert.Equal(t, strings.Repeat("y", 10), ce.Stderr[:10])

	_, err = rt.Presents(ctx, "node-1")
	var pe *PresentsOutputError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Problem, "more than 65536 bytes")
	assert.Less(t, len(err.Error()), 1000, "the error quotes only the start of the output")
}

// TestNewRuntimeErrors: every configuration that cannot work is named.
func TestNewRuntimeErrors(t *testing.T) {
	ok := Node{Name: "node-1", Stop: []string{"true"}, Start: []string{"true"}, Presents: []string{"true"}}
	with := func(edit func(*Node)) Node { n := ok; edit(&n); return n }
	tests := []struct {
		name  string
		cfg   RuntimeConfig
		node  string
		field string
	}{
		{"no nodes", RuntimeConfig{}, "", "Nodes"},
		{"negative timeout", RuntimeConfig{Nodes: []Node{ok}, Timeout: -time.Second}, "", "Timeout"},
		{"no name", RuntimeConfig{Nodes: []Node{with(func(n *Node) { n.Name = "" })}}, "", "Nodes[0].Name"},
		{"twice", RuntimeConfig{Nodes: []Node{ok, ok}}, "", "Nodes[1].Name"},
		{"no start", RuntimeConfig{Nodes: []Node{with(func(n *Node) { n.Start = nil })}}, "node-1", "Start"},
		{"no stop", RuntimeConfig{Nodes: []Node{with(func(n *Node) { n.Stop = nil })}}, "node-1", "Stop"},
		{"no presents", RuntimeConfig{Nodes: []Node{with(func(n *Node) { n.Presents = nil })}}, "node-1", "Presents"},
		{"empty program", RuntimeConfig{Nodes: []Node{with(func(n *Node) { n.Restart = []string{""} })}}, "node-1", "Restart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRuntime(tt.cfg)
			var ce *RuntimeConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.node, ce.Node)
			assert.Equal(t, tt.field, ce.Field)
			assert.True(t, strings.HasPrefix(err.Error(), "command: "), err.Error())
		})
	}
	assert.False(t, errors.Is(&RuntimeConfigError{}, ErrUnknownNode))
}

// Three nodes of a runtime run as systemd units flow@node-N; what a node
// presents is the certificate its flow's status script prints. The commands
// must exist on the host, so the example is not run.
func ExampleNewRuntime() {
	var nodes []Node
	for _, name := range []string{"node-1", "node-2", "node-3"} {
		nodes = append(nodes, Node{
			Name:     name,
			Stop:     []string{"systemctl", "stop", "flow@{node}"},
			Start:    []string{"systemctl", "start", "flow@{node}"},
			Restart:  []string{"systemctl", "restart", "flow@{node}"},
			Presents: []string{"/usr/local/bin/flow-presents", "{node}"}, // prints PEM, or nothing when stopped
		})
	}
	rt, err := NewRuntime(RuntimeConfig{Nodes: nodes, Timeout: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := rt.Restart(ctx, "node-2"); err != nil {
		fmt.Println(err) // a *NodeCommandError with the unit's output
		return
	}
	c, err := rt.Presents(ctx, "node-2")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("node-2 presents", c.Subject)
}

// TestRuntimeInstructionsRunByHand runs the commands the runbook prints
// for the restart step with a shell, as a person following it would: the
// nodes, started with the old certificate, present the new one after the
// printed restart commands, as the printed presents commands show.
func TestRuntimeInstructionsRunByHand(t *testing.T) {
	rtNeed(t, "openssl", "openssl")
	sh := rtNeed(t, "sh", "dash")
	oldLeaf, newLeaf := rtLeaves(t)
	dir, script := rtLandscape(t, oldLeaf)
	rt, err := NewRuntime(RuntimeConfig{Nodes: []Node{
		rtScriptNode("node-1", script, false),
		rtScriptNode("node 2", script, true), // a name that needs quoting
	}})
	require.NoError(t, err)
	ctx := context.Background()
	for _, n := range []string{"node-1", "node 2"} {
		require.NoError(t, rt.Start(ctx, n))
	}
	rtSetCurrent(t, dir, newLeaf)

	lines := rt.Instructions(renewal.Step{ID: renewal.StepRestartNodes, Number: 7})
	assert.Equal(t, []string{
		"# Restart the flow on every node:",
		script + " stop node-1",
		script + " start node-1",
		script + " restart 'node 2'",
		"# Check that every node presents the new certificate (each prints it, or its SHA-256 fingerprint):",
		script + " presents node-1",
		script + " presents 'node 2'",
	}, lines)
	var printed []string
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		out, err := exec.CommandContext(cctx, sh, "-c", l).Output()
		cancel()
		require.NoError(t, err, l)
		if strings.Contains(l, " presents ") {
			printed = append(printed, string(out))
		}
	}
	require.Len(t, printed, 2)
	for i, out := range printed {
		certs, err := keystore.ParseCertificates([]byte(out))
		require.NoError(t, err)
		require.NotEmpty(t, certs)
		assert.True(t, certs[0].Equal(newLeaf), "node %d presents the new certificate after the printed restart", i+1)
	}
	for _, n := range []string{"node-1", "node 2"} {
		c, err := rt.Presents(ctx, n)
		require.NoError(t, err)
		assert.True(t, c.Equal(newLeaf), n)
	}

	assert.Equal(t, []string{"# Stop the flow on every node:", script + " stop node-1", script + " stop 'node 2'"},
		rt.Instructions(renewal.Step{ID: renewal.StepStopFlow, Number: 4})[:3])
	assert.Nil(t, rt.Instructions(renewal.Step{ID: renewal.StepSwapEntry}))
}
