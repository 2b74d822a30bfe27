package local

import (
	"fmt"
	"sort"
	"strings"
)

// The String methods of the types a caller prints, so that %v reads as a
// sentence. None prints a password or a key.

// String names the CA by its root: `local CA "CN=New Root CA,O=certroll
// example"`.
func (c *CA) String() string {
	if c == nil {
		return "no CA"
	}
	return fmt.Sprintf("local CA %q", c.Root().Subject.String())
}

// String counts the messages in one line: for every node, then one line
// per node in name order, "3000 messages sent, 0 failed, 2 skipped\n
// node-1: 1000 sent, 0 failed, 0 skipped; presented 2 certificates in
// turn\n  …"; for one node, its line.
func (s Stats) String() string {
	if s.PerNode == nil {
		return s.nodeLine()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d messages sent, %d failed, %d skipped", s.Total, s.Failed, s.Skipped)
	names := make([]string, 0, len(s.PerNode))
	for name := range s.PerNode {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "\n  %s: %s", name, s.PerNode[name].nodeLine())
	}
	return b.String()
}

// nodeLine counts one node's messages: "1000 sent, 0 failed, 0 skipped;
// presented 2 certificates in turn".
func (s Stats) nodeLine() string {
	certs := "no certificate"
	switch len(s.Sequence) {
	case 0:
	case 1:
		certs = "1 certificate"
	default:
		certs = fmt.Sprintf("%d certificates in turn", len(s.Sequence))
	}
	return fmt.Sprintf("%d sent, %d failed, %d skipped; presented %s", s.Total, s.Failed, s.Skipped, certs)
}

// String says which node's message failed, when, and why:
// "node-2 at 09:00:01.250: local: node stopped, message processing failed".
func (f Failure) String() string {
	return fmt.Sprintf("%s at %s: %v", f.Node, f.At.Format("15:04:05.000"), f.Err)
}
