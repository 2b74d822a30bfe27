//go:build unix

package probe

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer collects a server's output for the failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<10 {
		return len(p), nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs the program that build configures for a port (build
// returns the argv), killed in t.Cleanup, and waits until it listens on
// 127.0.0.1:port. A port taken between choosing and binding is retried with
// another one. It returns the address, the process it started, and a
// function returning the program's output and logs so far, for failure
// messages.
func startServer(t *testing.T, build func(port string) []string, logs func() string) (string, *os.Process, func() string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		argv := build(port)
		var out syncBuffer
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = &out, &out
		// Its own process group, so that the workers it forks are ended
		// with it; WaitDelay so that a worker holding the output pipe does
		// not hold Wait.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.WaitDelay = time.Second
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		pgid := cmd.Process.Pid
		t.Cleanup(func() {
			// SIGTERM: nginx's fast shutdown and HAProxy's stop, both of
			// which end their workers; SIGKILL to the group if that hangs.
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
			}
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		})
		addr := "127.0.0.1:" + port
		all := func() string { return out.String() + logs() }
		if attempt < 3 && portTaken(addr, exited, all) {
			continue
		}
		waitListening(t, addr, exited, all)
		return addr, cmd.Process, all
	}
}

// portTaken reports that the server exited at once because the port was
// taken by someone else in the meantime.
func portTaken(addr string, exited <-chan struct{}, log func() string) bool {
	select {
	case <-exited:
		return strings.Contains(log(), "in use")
	case <-time.After(200 * time.Millisecond):
		return false
	}
}
