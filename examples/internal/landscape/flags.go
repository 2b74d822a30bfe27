package landscape

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certroll/certroll/keystore"
)

// Flags are the command line of both examples.
type Flags struct {
	// Format is the tenant keystore's format (-format jks|pkcs12).
	Format keystore.Format
	// Dir keeps the files (-dir); empty means a temporary directory
	// removed at the end. A Dir that holds a journal is resumed.
	Dir string
	// Nodes is the number of runtime nodes (-nodes).
	Nodes int
	// Rate is the number of requests per second each node sends (-rate).
	Rate float64
	// StepPause is how long traffic flows after each step before the next
	// starts (-step-pause), so that every phase of the renewal carries
	// load.
	StepPause time.Duration
	// SkipRestart, if not zero, names node SkipRestart (1-based) as one the
	// integration developer forgets when restarting the flow
	// (-skip-restart-node): in the overlap sequence it keeps its cached
	// configuration, in the downtime sequence it stays stopped. The gate
	// after the restart names it.
	SkipRestart int
	// Drain is how long the receiver must have seen no handshake with the
	// old certificate before the old certificate and root are removed
	// (-drain), so that requests still in flight from nodes restarted
	// moments before are not refused. Zero means no quiet period.
	Drain time.Duration
	// Runbook prints the runbook and diagram and runs nothing (-runbook).
	Runbook bool
	// Summary, if not empty, is the file the summary is written to as
	// JSON (-summary).
	Summary string
	// Real runs the renewal against a real nginx and JVM nodes on this
	// machine instead of the receiver and nodes embedded in the process
	// (-landscape real; the default is -landscape embedded).
	Real bool
	// StaleCANames makes the embedded receiver advertise only the old
	// root's name while it trusts the new one too, as HAProxy 2.6 does
	// after the new root was added through its runtime API and before a
	// reload (-stale-ca-names; overlap and the embedded landscape only).
	StaleCANames bool
}

// Defaults of the real landscape for the flags the user did not give:
// a JVM node runs a full TLS handshake a request, so 20 requests a second
// a node keep a shared machine responsive; nginx logs the time of a
// request in whole seconds ($time_iso8601), so a drain under 2 s could
// end while a request of the same second is still to come.
const (
	realRate  = 20
	realDrain = 2 * time.Second
)

// ParseFlags parses the command line of the example called name. On a
// bad command line it prints what is wrong to errOut and returns false;
// the example then exits with status 2.
func ParseFlags(name string, args []string, errOut io.Writer) (*Flags, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	f := &Flags{}
	format := fs.String("format", "jks", "tenant keystore format: jks or pkcs12")
	fs.StringVar(&f.Dir, "dir", "", "keep the files in this directory; run again with the same -dir to resume an interrupted run")
	fs.IntVar(&f.Nodes, "nodes", 3, "number of runtime nodes")
	fs.Float64Var(&f.Rate, "rate", 100, "requests per second each node sends")
	fs.DurationVar(&f.StepPause, "step-pause", 250*time.Millisecond, "how long traffic flows after each step")
	fs.IntVar(&f.SkipRestart, "skip-restart-node", 0, "forget node K when the nodes are restarted: overlap leaves it on its cached configuration, downtime leaves it stopped")
	fs.DurationVar(&f.Drain, "drain", 500*time.Millisecond, "before removing the old certificate and root, wait until the receiver has seen no handshake with the old certificate for this long")
	fs.BoolVar(&f.Runbook, "runbook", false, "print the runbook and the sequence diagram only")
	fs.StringVar(&f.Summary, "summary", "", "write the summary as JSON to this file")
	if name == "overlap" {
		fs.BoolVar(&f.StaleCANames, "stale-ca-names", false, "the receiver trusts the new root but keeps advertising only the old one, as HAProxy does after a runtime-API update without a reload: the run stops before the keystore is touched; run again with the same -dir, without this flag, to resume")
	}
	kind := fs.String("landscape", "embedded", "embedded: the receiver and nodes run in this process; real: nginx and JVM nodes on 127.0.0.1 (-rate defaults to 20, -drain to 2s)")
	if err := fs.Parse(args); err != nil {
		return nil, false // the flag package said why
	}
	switch *kind {
	case "embedded":
	case "real":
		f.Real = true
		given := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
		if !given["rate"] {
			f.Rate = realRate
		}
		if !given["drain"] {
			f.Drain = realDrain
		}
	default:
		fmt.Fprintf(errOut, "-landscape: want embedded or real, got %q\n", *kind)
		return nil, false
	}
	if f.StaleCANames && f.Real {
		fmt.Fprintln(errOut, "-stale-ca-names needs -landscape embedded: nginx advertises every root of its bundle once reloaded, so the stale names cannot be shown against it")
		return nil, false
	}
	var err error
	if f.Format, err = parseFormat(*format); err != nil {
		fmt.Fprintln(errOut, err)
		return nil, false
	}
	if f.Nodes < 1 || f.Rate <= 0 || f.SkipRestart < 0 || f.SkipRestart > f.Nodes || f.Drain < 0 {
		fmt.Fprintf(errOut, "want -nodes >= 1, -rate > 0, 0 <= -skip-restart-node <= -nodes and -drain >= 0\n")
		return nil, false
	}
	if f.Summary != "" {
		if err := checkOutputDir(f.Summary); err != nil {
			fmt.Fprintln(errOut, err)
			return nil, false
		}
	}
	return f, true
}

// parseFormat turns the -format flag into a keystore format.
func parseFormat(s string) (keystore.Format, error) {
	switch strings.ToLower(s) {
	case "jks":
		return keystore.JKS, nil
	case "pkcs12", "p12":
		return keystore.PKCS12, nil
	}
	return 0, fmt.Errorf("-format: want jks or pkcs12, got %q", s)
}

// checkOutputDir refuses an output file whose directory is missing or not
// a directory before the run starts, rather than after the whole renewal.
func checkOutputDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("-summary %q: the directory %s must exist before the run: %w", path, dir, err)
	case !fi.IsDir():
		return fmt.Errorf("-summary %q: %s is not a directory", path, dir)
	}
	return nil
}

// TempDir returns dir if it is not empty, or else a new temporary
// directory for a run of the sequence named seq, and a function that
// removes a temporary directory (and does nothing for dir).
func TempDir(dir, seq string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "certroll-"+seq+"-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}
