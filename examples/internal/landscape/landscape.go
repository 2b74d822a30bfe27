// Package landscape is the scaffolding of the overlap and downtime
// examples, the part that is not the renewal itself: it builds the files
// a renewal starts from on one machine (an old CA and a new CA, a tenant
// keystore whose alias the old CA signed, the receiver's truststore and
// accepted-certificates file, and the plan), reopens them to resume an
// interrupted run, counts the traffic of the runtime nodes, prints the
// executor's progress and the summary, and parses the flags both examples
// share. For the real landscape (-landscape real) it also writes nginx's
// files, starts and stops nginx ([StartNginx]) and counts the requests of
// the JVM nodes ([JavaNodes]).
//
// The examples' main.go files show the renewal itself, top to bottom:
// the receiver, the runtime, the executor and its run.
package landscape

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// Alias is the tenant keystore's key entry, the one the nodes present.
const Alias = "client"

// Password protects every keystore of the landscape.
var Password = []byte("changeit")

// Options says what landscape to build.
type Options struct {
	// Sequence is the renewal sequence the plan follows.
	Sequence renewal.Sequence
	// Format is the tenant keystore's format.
	Format keystore.Format
	// Nodes is the number of runtime nodes the plan names.
	Nodes int
	// AfterWrite, if not nil, is called after each write of the set-up
	// with a name for it; an error stops the set-up there, as a kill
	// would. Tests set it.
	AfterWrite func(point string) error
	// Real builds, next to the tenant's files, the files of a real nginx
	// receiver ([NginxFiles]) instead of the embedded receiver's.
	Real bool
}

// Landscape is the set of files one run works with, and the two CAs.
type Landscape struct {
	// Dir holds every file.
	Dir string
	// Keystore is the tenant's client keystore; Truststore and Accepted
	// are the receiver's files; Journal is the executor's journal and
	// HandOver the directory of the certificates handed to the receiver
	// administrator.
	Keystore, Truststore, Accepted, Journal, HandOver string
	// OldCA signed the certificate in use; NewCA signs the new one.
	OldCA, NewCA *local.CA
	// Plan is the renewal to run.
	Plan *renewal.Plan
	// Resumed is set when Dir held the landscape of an earlier run.
	Resumed bool
	// Nginx holds the files of the real landscape's nginx; nil in the
	// embedded landscape.
	Nginx *NginxFiles
	// JavaDir is the directory of the real landscape's JVM nodes (their
	// Node.java), which renewal/java creates; empty in the embedded
	// landscape.
	JavaDir string

	format     keystore.Format
	plan       string // the kept plan's path
	afterWrite func(string) error
}

// stagingDir is the directory in a landscape's dir where the set-up
// builds the landscape before moving it into place.
const stagingDir = ".setup"

// paths returns the landscape's file names in dir, for a tenant keystore
// of format f.
func paths(dir string, f keystore.Format) *Landscape {
	ext := ".jks"
	if f == keystore.PKCS12 {
		ext = ".p12"
	}
	return &Landscape{
		format:     f,
		Dir:        dir,
		Keystore:   filepath.Join(dir, "tenant-client"+ext),
		Truststore: filepath.Join(dir, "receiver-truststore.jks"),
		Accepted:   filepath.Join(dir, "receiver-accepted.pem"),
		plan:       filepath.Join(dir, "plan.json"),
		Journal:    filepath.Join(dir, "journal.json"),
		HandOver:   filepath.Join(dir, "hand-over"),
	}
}

func (l *Landscape) point(name string) error {
	if l.afterWrite == nil {
		return nil
	}
	return l.afterWrite(name)
}

// Open builds the landscape's files in dir, or reopens them.
//
// The set-up is atomic: it builds every file in dir/.setup, writing the
// plan there last, then moves the files into dir, the plan last. A run
// that finds plan.json in dir resumes; one that finds it only in
// dir/.setup finishes the move; one that finds dir/.setup without a plan
// builds it again. So a set-up killed at any point leaves a directory the
// next run with the same -dir completes. A dir that holds the landscape
// of another run (another sequence, format or number of nodes) is refused
// with a [*DirError], touching nothing.
func Open(dir string, opt Options) (*Landscape, error) {
	l := paths(dir, opt.Format)
	l.afterWrite = opt.AfterWrite
	if opt.Real {
		l.Nginx, l.JavaDir = nginxFiles(dir), filepath.Join(dir, "java")
	}
	if err := l.finishMove(); err != nil {
		return nil, err
	}
	kept, err := readPlan(l.plan)
	if err == nil {
		if err := l.check(kept, opt); err != nil {
			return nil, err
		}
		l.Resumed = true
		if l.OldCA, err = local.NewCA(local.CAConfig{Name: "Old Root CA", Dir: filepath.Join(dir, "old-ca")}); err != nil {
			return nil, err
		}
		if l.NewCA, err = local.NewCA(local.CAConfig{Name: "New Root CA", Dir: filepath.Join(dir, "new-ca")}); err != nil {
			return nil, err
		}
		// The live alias may already hold the new certificate, so the plan
		// is rebuilt from the kept parameters, not from the keystore.
		l.Plan, err = renewal.Build(kept.Sequence, kept.Params)
		return l, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, stale := range []string{l.Keystore, l.Truststore, l.Accepted, l.Journal, l.HandOver,
		filepath.Join(dir, "old-ca"), filepath.Join(dir, "new-ca"), nginxFiles(dir).Dir} {
		if _, err := os.Stat(stale); err == nil {
			return nil, fmt.Errorf("landscape: %s exists but %s does not: not a landscape this program made; give an empty or new -dir", stale, l.plan)
		}
	}
	if err := l.setUp(opt); err != nil {
		return nil, err
	}
	return l, nil
}

// Describe prints what the run starts from: the landscape and the
// runbook, or that it resumes. The runbook carries, under each step, the
// commands of the adapters that say theirs (renewal.Instructor): the
// executor's CA, receiver and runtime.
func (l *Landscape) Describe(w io.Writer, adapters ...any) {
	if l.Resumed {
		fmt.Fprintf(w, "resuming the %s renewal in %s from its journal\n", l.Plan.Sequence, l.Dir)
		return
	}
	trust := "receiver truststore " + filepath.Base(l.Truststore)
	if l.Nginx != nil {
		trust = "nginx's client-CA bundle " + l.TrustFile() + " and pin map " + l.Nginx.PinMap
	}
	fmt.Fprintf(w, "landscape in %s: tenant keystore %s (%v), alias %q signed by %q; %s\n",
		l.Dir, filepath.Base(l.Keystore), l.format, Alias, l.OldCA.Root().Subject.CommonName, trust)
	fmt.Fprintf(w, "\n%s\n", l.Plan.Markdown(adapters...))
}

// TrustFile is the file of the roots the receiver trusts: the embedded
// receiver's truststore, or nginx's client-CA bundle.
func (l *Landscape) TrustFile() string {
	if l.Nginx != nil {
		return l.Nginx.ClientCA
	}
	return l.Truststore
}

// FlowStopped reports whether the journal records the flow as stopped and
// not yet restarted: a downtime run interrupted inside its window, whose
// nodes stay stopped until the executor's restart step.
func (l *Landscape) FlowStopped() (bool, error) {
	if !l.Resumed {
		return false, nil
	}
	j, err := renewal.ReadJournal(l.Journal)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return done(j, renewal.StepStopFlow) && !done(j, renewal.StepRestartNodes), nil
}

func done(j *renewal.Result, id renewal.StepID) bool {
	r := j.Step(id)
	return r != nil && r.Status == renewal.StatusDone
}

// readPlan reads a plan kept in path.
func readPlan(path string) (*renewal.Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kept renewal.Plan
	if err := json.Unmarshal(data, &kept); err != nil {
		return nil, fmt.Errorf("landscape: %s: %w", path, err)
	}
	return &kept, nil
}

// setUp builds the landscape in dir/.setup and moves it into l.Dir; see
// [Open].
func (l *Landscape) setUp(opt Options) error {
	stage := filepath.Join(l.Dir, stagingDir)
	// What is here is a set-up stopped before it wrote its plan.
	if err := os.RemoveAll(stage); err != nil {
		return err
	}
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return err
	}
	st := paths(stage, opt.Format)
	var err error
	if st.OldCA, err = local.NewCA(local.CAConfig{Name: "Old Root CA", Dir: filepath.Join(stage, "old-ca")}); err != nil {
		return err
	}
	if err := l.point("old-ca"); err != nil {
		return err
	}
	if st.NewCA, err = local.NewCA(local.CAConfig{Name: "New Root CA", Dir: filepath.Join(stage, "new-ca")}); err != nil {
		return err
	}
	if err := l.point("new-ca"); err != nil {
		return err
	}
	if err := os.MkdirAll(st.HandOver, 0o700); err != nil {
		return err
	}
	key, err := keystore.GenerateKey(keystore.RSA2048, nil)
	if err != nil {
		return err
	}
	chain, err := st.OldCA.Issue("tenant-client", key.Public())
	if err != nil {
		return err
	}
	ks := keystore.New(opt.Format, nil)
	if err := ks.Set(&keystore.Entry{Alias: Alias, Key: key, Chain: chain}, nil); err != nil {
		return err
	}
	if err := ks.Save(st.Keystore, Password, nil); err != nil {
		return err
	}
	if err := l.point("keystore"); err != nil {
		return err
	}
	if opt.Real {
		// nginx's files: the client-CA bundle (the old root) and the pin
		// map (the old client certificate), as its administrator has them
		// before the renewal, and the server certificate the nodes trust.
		if err := writeNginxFiles(nginxFiles(stage), chain); err != nil {
			return err
		}
		if err := l.point("nginx"); err != nil {
			return err
		}
	} else if err := l.embeddedReceiverFiles(st, chain); err != nil {
		return err
	}
	if l.Plan, err = st.writePlan(opt, l); err != nil {
		return err
	}
	if err := l.point("plan"); err != nil {
		return err
	}
	if err := l.finishMove(); err != nil {
		return err
	}
	l.OldCA, l.NewCA = st.OldCA, st.NewCA
	return nil
}

// embeddedReceiverFiles writes the embedded receiver's files in the
// landscape staged in st: a truststore with the old root and the
// accepted list with the old client certificate, chain's leaf.
func (l *Landscape) embeddedReceiverFiles(st *Landscape, chain []*x509.Certificate) error {
	ts := keystore.New(keystore.JKS, nil)
	if err := ts.Set(&keystore.Entry{Alias: "old-root-ca", Chain: chain[1:]}, nil); err != nil {
		return err
	}
	if err := ts.Save(st.Truststore, Password, nil); err != nil {
		return err
	}
	if err := l.point("truststore"); err != nil {
		return err
	}
	// The receiver accepts the old client certificate.
	rcv, err := local.NewReceiver(local.ReceiverConfig{Truststore: st.Truststore, TruststorePassword: Password, Accepted: st.Accepted})
	if err != nil {
		return err
	}
	if err := rcv.AcceptClient(context.Background(), chain); err != nil {
		return err
	}
	return l.point("accepted")
}

// finishMove moves a complete set-up (one whose plan is written) from
// l.Dir/.setup into l.Dir, the plan last, and removes l.Dir/.setup. It
// does nothing if l.Dir/.setup holds no plan.
func (l *Landscape) finishMove() error {
	dir := l.Dir
	stage := filepath.Join(dir, stagingDir)
	staged := paths(stage, keystore.JKS).plan
	if _, err := os.Stat(staged); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(staged))); err == nil {
			// Killed after the move, before the staging directory was
			// removed: it is empty (os.Remove removes nothing else).
			if err := os.Remove(stage); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("landscape: finishing the set-up of %s: %w", dir, err)
			}
		}
		return nil
	} else if err != nil {
		return err
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == filepath.Base(staged) {
			continue
		}
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("landscape: finishing the set-up of %s: %w", dir, err)
		}
		if err := l.point("move " + e.Name()); err != nil {
			return err
		}
	}
	if err := os.Rename(staged, filepath.Join(dir, filepath.Base(staged))); err != nil {
		return fmt.Errorf("landscape: finishing the set-up of %s: %w", dir, err)
	}
	if err := l.point("move plan"); err != nil {
		return err
	}
	return os.Remove(stage)
}

// check returns an error naming what differs if the plan kept in l.Dir is
// not one this run (opt) would have made, so that a -dir of another run
// is refused before anything is touched.
func (l *Landscape) check(kept *renewal.Plan, opt Options) error {
	e := &DirError{Dir: l.Dir, Sequence: kept.Sequence, Format: kept.Params.KeystoreFormat, Nodes: len(kept.Params.Nodes)}
	if _, err := os.Stat(nginxFiles(l.Dir).ClientCA); err == nil {
		e.Real = true
	}
	if e.Real != opt.Real {
		e.Differences = append(e.Differences, fmt.Sprintf("landscape %s, not %s", kindName(e.Real), kindName(opt.Real)))
	}
	if kept.Sequence != opt.Sequence {
		e.Differences = append(e.Differences, fmt.Sprintf("sequence %s, not %s", kept.Sequence, opt.Sequence))
	}
	if kept.Params.KeystoreFormat != opt.Format.String() {
		e.Differences = append(e.Differences, fmt.Sprintf("keystore format %s, not %s", kept.Params.KeystoreFormat, opt.Format))
	} else if kept.Params.Keystore != l.Keystore {
		e.Differences = append(e.Differences, fmt.Sprintf("keystore %s, not %s (was the directory moved?)", kept.Params.Keystore, l.Keystore))
	}
	if len(kept.Params.Nodes) != opt.Nodes {
		e.Differences = append(e.Differences, fmt.Sprintf("%d nodes, not %d", len(kept.Params.Nodes), opt.Nodes))
	}
	if len(e.Differences) == 0 {
		return nil
	}
	return e
}

// DirError reports a -dir that holds the landscape of another run: one
// made for another sequence, keystore format or number of nodes.
type DirError struct {
	// Dir is the directory.
	Dir string
	// Sequence, Format and Nodes describe the run whose landscape Dir
	// holds (Format as [keystore.Format.String] gives it).
	Sequence renewal.Sequence
	Format   string
	Nodes    int
	// Real says whether Dir holds a real landscape (nginx's files).
	Real bool
	// Differences says, one item each, what differs from the run asked
	// for: "sequence overlap, not downtime".
	Differences []string
}

func (e *DirError) Error() string {
	format := "jks"
	if e.Format == keystore.PKCS12.String() {
		format = "pkcs12"
	}
	real := ""
	if e.Real {
		real = " -landscape real"
	}
	return fmt.Sprintf("landscape: -dir %q holds the landscape of another run: %s; resume that run with "+
		"`go run ./examples/%s%s -dir %s -format %s -nodes %d`, or give an empty or new -dir for this one",
		e.Dir, strings.Join(e.Differences, "; "), e.Sequence, real, e.Dir, format, e.Nodes)
}

// kindName names a landscape as the -landscape flag does.
func kindName(real bool) string {
	if real {
		return "real"
	}
	return "embedded"
}

// writePlan builds the plan for the landscape staged in l, naming the
// files where they will be once moved into final, and keeps it in
// l.plan.
func (l *Landscape) writePlan(opt Options, final *Landscape) (*renewal.Plan, error) {
	ks, err := keystore.Open(l.Keystore, Password, nil)
	if err != nil {
		return nil, err
	}
	chain, err := ks.Certificates(Alias)
	if err != nil {
		return nil, err
	}
	nodes := make([]string, opt.Nodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%d", i+1)
	}
	p := renewal.Params{
		Alias:              Alias,
		Keystore:           final.Keystore,
		KeystoreFormat:     opt.Format.String(),
		Truststore:         final.Truststore,
		Nodes:              nodes,
		OldFingerprint:     keystore.CertFingerprint(chain[0]).Hex(),
		OldRootSubject:     l.OldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(l.OldCA.Root()).Hex(),
		NewRootSubject:     l.NewCA.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(l.NewCA.Root()).Hex(),
	}
	if opt.Real {
		p.Truststore = nginxFiles(final.Dir).ClientCA // nginx's bundle of trusted roots
	}
	if opt.Sequence == renewal.SequenceDowntime {
		p.Window = renewal.Window{Description: "now, for as long as the exchange takes"}
	}
	plan, err := renewal.Build(opt.Sequence, p)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, err
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	return plan, atomicfile.Write(ctx, l.plan, data, atomicfile.Options{Mode: 0o600})
}
