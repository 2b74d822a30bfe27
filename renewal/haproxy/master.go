package haproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxAnswer bounds an answer of the master CLI: show proc lists a line a
// process, so 64 KB is far more than any master prints.
const maxAnswer = 64 << 10

// masterCommand sends one command to the master CLI and returns its
// answer, read until the master closes the connection. ";quit" ends the
// session after the command (the master CLI otherwise keeps it open);
// reload closes it by itself.
func masterCLI(ctx context.Context, socket, command string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("haproxy: connecting to the master CLI %q: %w: is HAProxy running with -W -S %s?", socket, err, socket)
	}
	defer c.Close()
	dl := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetDeadline(dl)
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return "", fmt.Errorf("haproxy: master CLI %q: sending %q: %w", socket, command, err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(c, maxAnswer)); err != nil {
		return b.String(), fmt.Errorf("haproxy: master CLI %q: reading the answer to %q: %w", socket, command, err)
	}
	return b.String(), nil
}

// masterCommand sends command (reload) and ignores its answer: HAProxy 2.6
// closes the connection when it re-executes.
func masterCommand(ctx context.Context, socket, command string) error {
	_, err := masterCLI(ctx, socket, command)
	return err
}

// procList is what show proc says: the master's reload counters, each
// current worker's pid with the number of reloads it has lived through (0
// for a worker of the current configuration), and the pids of the old
// workers (those the master told to stop: they no longer accept
// connections and finish the ones they have).
type procList struct {
	reloads, failed int
	workers         map[int]int
	old             map[int]bool
}

// showProc runs show proc on the master CLI.
func showProc(ctx context.Context, socket string) (*procList, error) {
	out, err := masterCLI(ctx, socket, "show proc;quit")
	if err != nil {
		return nil, err
	}
	return parseShowProc(out)
}

// parseShowProc reads show proc's table:
//
//	#<PID>          <type>          <reloads>       <uptime>        <version>
//	2812            master          3 [failed: 0]   0d00h10m26s     2.6.12-1+deb12u3
//	# workers
//	22704           worker          0               0d00h00m01s     2.6.12-1+deb12u3
//	# old workers
//	22650           worker          1               0d00h05m12s     2.6.12-1+deb12u3
//	# programs
func parseShowProc(out string) (*procList, error) {
	p := &procList{workers: map[int]int{}, old: map[int]bool{}}
	master := false
	section := ""
	for _, line := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "# ") {
			section = strings.TrimSpace(t[1:])
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		switch f[1] {
		case "master":
			master = true
			p.reloads = n
			if i := strings.Index(line, "[failed:"); i >= 0 {
				rest := strings.TrimSpace(line[i+len("[failed:"):])
				num, _, _ := strings.Cut(rest, "]")
				p.failed, _ = strconv.Atoi(strings.TrimSpace(num))
			}
		case "worker":
			if section == "old workers" {
				p.old[pid] = true
			} else {
				p.workers[pid] = n
			}
		}
	}
	if !master {
		return nil, fmt.Errorf("haproxy: master CLI: show proc: want a table with the master's line, found %q", cut(strings.TrimSpace(out), 200))
	}
	return p, nil
}

// children returns the processes whose parent is master, from /proc.
func children(master int) (map[int]bool, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("haproxy: listing HAProxy's worker processes: %w (without Config.MasterSocket the reload wait needs Linux's /proc)", err)
	}
	out := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(master) {
			out[pid] = true
		}
	}
	return out, nil
}

// catchesUSR2 reports whether process pid has a handler for SIGUSR2, from
// the SigCgt mask of /proc/<pid>/status. The master installs it only once
// it runs its loop: while it starts, or re-executes itself for a reload,
// the signal's default action (ending the process) or a lost reload would
// follow.
func catchesUSR2(pid int) (bool, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return false, fmt.Errorf("haproxy: reading the master's signal handlers: %w (without Config.MasterSocket the reload needs Linux's /proc)", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		hex, ok := strings.CutPrefix(line, "SigCgt:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return false, fmt.Errorf("haproxy: /proc/%d/status: SigCgt: want a hex mask, found %q", pid, strings.TrimSpace(hex))
		}
		return mask&(1<<(int(syscall.SIGUSR2)-1)) != 0, nil
	}
	return false, fmt.Errorf("haproxy: /proc/%d/status has no SigCgt line", pid)
}

// listening reports whether process pid holds a listening TCP socket (one
// of /proc/<pid>/fd that /proc/<pid>/net/tcp or tcp6 lists in state
// LISTEN): an HAProxy worker that does still accepts connections. A
// process that is gone listens on nothing.
func listening(pid int) (bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return false, nil
		}
		return false, fmt.Errorf("haproxy: reading the sockets of worker %d: %w (the reload wait needs Linux's /proc, and the right to read the worker's)", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	if len(inodes) == 0 {
		return false, nil
	}
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join(dir, "net", table))
		if err != nil {
			continue // gone meanwhile, or no IPv6
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local remote st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) >= 10 && f[3] == "0A" && inodes[f[9]] {
				return true, nil
			}
		}
	}
	return false, nil
}

// stillServing returns the first of pids that still listens, or 0.
func stillServing(pids []int) (int, error) {
	for _, pid := range pids {
		ok, err := listening(pid)
		if err != nil {
			return 0, err
		}
		if ok {
			return pid, nil
		}
	}
	return 0, nil
}
