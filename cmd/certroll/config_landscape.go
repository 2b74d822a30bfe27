package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/command"
	"github.com/certroll/certroll/renewal/handoff"
	"github.com/certroll/certroll/renewal/haproxy"
	"github.com/certroll/certroll/renewal/java"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/nginx"
	"github.com/certroll/certroll/truststore"
)

// landscape is a configuration made real: the plan, and the adapters the
// executor runs it against.
type landscape struct {
	cfg    *config
	plan   *renewal.Plan
	tenant *renewal.Tenant

	oldRoot, newRoot *x509.Certificate
	oldLeaf          *x509.Certificate

	ca       renewal.CA
	receiver renewal.Receiver
	runtime  renewal.Runtime
	notifier renewal.Notifier
	// adapters are what Plan.Markdown asks for the adapters' commands.
	adapters []any

	// start starts what runs inside this process (the embedded receiver's
	// server and the nodes); traffic, if not nil, sends the embedded
	// runtime's messages until its context ends and says how many failed.
	start   func(context.Context) error
	traffic func(context.Context) string
	closers []func()

	secrets [][]byte
}

// close stops what the landscape started and wipes its passwords.
func (l *landscape) close() {
	for i := len(l.closers) - 1; i >= 0; i-- {
		l.closers[i]()
	}
	for _, s := range l.secrets {
		wipe(s)
	}
}

// openMode says how much of the landscape to make: a plan needs the
// adapters' descriptions only; a run needs them working.
type openMode int

const (
	forPlan openMode = iota
	forRun
)

// openLandscape reads the files the configuration names (the tenant
// keystore for the old certificate and the old root, the new root), makes
// the adapters and builds the plan.
func openLandscape(e *env, c *config, mode openMode) (_ *landscape, err error) {
	l := &landscape{cfg: c, start: func(context.Context) error { return nil }}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	pw, err := c.readPassword(c.Tenant.Password, "tenant keystore password")
	if err != nil {
		return nil, err
	}
	l.secrets = append(l.secrets, pw)
	ksPath := c.file(c.Tenant.Keystore)
	ks, err := keystore.Open(ksPath, pw, nil)
	if errors.Is(err, keystore.ErrIncorrectPassword) {
		return nil, usageErr(fmt.Errorf("the tenant keystore %s: the password is wrong, or the file was tampered with: check the password that tenant.password in %s names (%s)", ksPath, c.path, describeSource(c.Tenant.Password)))
	}
	if err != nil {
		return nil, usageErr(fmt.Errorf("the tenant keystore %s (configuration %s) cannot be opened: %w", ksPath, c.path, err))
	}
	if f := strings.ToUpper(strings.ReplaceAll(c.Tenant.Format, "#", "")); f != "" && f != strings.ToUpper(strings.ReplaceAll(ks.Format().String(), "#", "")) {
		return nil, usageErr(fmt.Errorf("the tenant keystore %s is %s, but the configuration %s says format %s: correct tenant.format", ksPath, ks.Format(), c.path, c.Tenant.Format))
	}
	entry, err := ks.Entry(c.Tenant.Alias)
	if err != nil {
		return nil, usageErr(fmt.Errorf("the tenant keystore %s: alias %q: %w (keytool -list shows the aliases)", ksPath, c.Tenant.Alias, err))
	}
	if entry.Kind() != keystore.KeyEntry || len(entry.Chain) == 0 {
		return nil, usageErr(fmt.Errorf("the tenant keystore %s: alias %q is a %s, not a PrivateKeyEntry: give the alias of the client certificate's key entry", ksPath, c.Tenant.Alias, entry.Kind()))
	}
	oldChain := entry.Chain
	var pool []*x509.Certificate

	// Once the renewal has replaced the entry, the old one is in the
	// history store; the journal says which it is. A journal of another
	// keystore or alias is left to the executor, which refuses it.
	if r, err := renewal.ReadJournal(c.journal()); err == nil && r.Params.OldFingerprint != "" &&
		r.Params.Keystore == ksPath && strings.EqualFold(r.Params.Alias, c.Tenant.Alias) &&
		r.Params.OldFingerprint != keystore.CertFingerprint(entry.Chain[0]).Hex() {
		hist, err := keystore.Open(ksPath+".history", pw, nil)
		if err != nil {
			return nil, usageErr(fmt.Errorf("the journal %s says alias %q in %s was renewed, but its history store %s cannot be opened: %w", c.journal(), c.Tenant.Alias, ksPath, ksPath+".history", err))
		}
		found := false
		for _, a := range hist.Aliases() {
			certs, err := hist.Certificates(a)
			if err != nil || len(certs) == 0 {
				continue
			}
			pool = append(pool, certs...)
			if keystore.CertFingerprint(certs[0]).Hex() == r.Params.OldFingerprint {
				oldChain, found = certs, true
			}
		}
		if !found {
			return nil, usageErr(fmt.Errorf("the journal %s records the old certificate SHA256:%s, which neither %s nor its history store holds", c.journal(), r.Params.OldFingerprint, ksPath))
		}
	}
	l.oldLeaf = oldChain[0]

	// The old root completes the old chain, from the chain itself, the
	// keystore's other certificates or old_root.
	for _, a := range ks.Aliases() {
		if certs, err := ks.Certificates(a); err == nil {
			pool = append(pool, certs...)
		}
	}
	if other, err := ks.OtherCertificates(); err == nil {
		pool = append(pool, other...)
	}
	if c.OldRoot != "" {
		certs, err := readCerts(c.file(c.OldRoot))
		if err != nil {
			return nil, err
		}
		pool = append(pool, certs...)
	}
	_, anchor, err := chain.Complete(oldChain, pool)
	if err != nil {
		return nil, usageErr(fmt.Errorf("the old root of alias %q in %s is not known: %w; give the old CA's root certificate as old_root in %s", c.Tenant.Alias, ksPath, err, c.path))
	}
	l.oldRoot = anchor

	var caPool []*x509.Certificate
	switch {
	case c.CA.Handoff != nil:
		caPool, err = readCertFiles(c, c.CA.Handoff.Pool)
	case c.CA.Command != nil:
		caPool, err = readCertFiles(c, c.CA.Command.Pool)
	}
	if err != nil {
		return nil, err
	}
	var embeddedCA *local.CA
	if c.CA.Embedded != nil {
		if embeddedCA, err = openEmbeddedCA(c, mode); err != nil {
			return nil, err
		}
	}
	if c.NewRoot != "" {
		certs, err := readCerts(c.file(c.NewRoot))
		if err != nil {
			return nil, err
		}
		l.newRoot = certs[0]
		if embeddedCA != nil && !embeddedCA.Root().Equal(l.newRoot) {
			return nil, usageErr(fmt.Errorf("new_root %s is not the root of the embedded CA in %s (configuration %s): remove new_root, or give the CA's ca.pem", c.file(c.NewRoot), c.file(c.CA.Embedded.Dir), c.path))
		}
	} else if embeddedCA != nil {
		l.newRoot = embeddedCA.Root()
	} else {
		for _, cert := range caPool {
			if bytes.Equal(cert.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(cert) == nil {
				l.newRoot = cert
			}
		}
	}
	if l.newRoot == nil {
		return nil, usageErr(fmt.Errorf("the configuration %s names no new root: give the new CA's root certificate as new_root, or in the CA's pool", c.path))
	}

	if err := l.makeAdapters(e, mode, ksPath, pw, caPool); err != nil {
		return nil, err
	}
	if embeddedCA != nil {
		l.ca = embeddedCA
		l.adapters = append(l.adapters, embeddedCA)
	}

	kt := keystore.KeyType(0)
	if c.Tenant.KeyType != "" {
		kt, _ = keystore.ParseKeyType(c.Tenant.KeyType)
	}
	l.tenant = &renewal.Tenant{Keystore: ksPath, Password: pw, Alias: c.Tenant.Alias, KeyType: kt}

	nodes, err := l.runtime.Nodes(context.Background())
	if err != nil {
		return nil, err
	}
	p := renewal.Params{
		Alias:              c.Tenant.Alias,
		Keystore:           ksPath,
		KeystoreFormat:     ks.Format().String(),
		Truststore:         l.truststoreName(),
		Nodes:              nodes,
		OldFingerprint:     keystore.CertFingerprint(l.oldLeaf).Hex(),
		OldRootSubject:     l.oldRoot.Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(l.oldRoot).Hex(),
		NewRootSubject:     l.newRoot.Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(l.newRoot).Hex(),
	}
	if w := c.Window; w != nil {
		p.Window.Description = w.Description
		p.Window.Start, _ = time.Parse(time.RFC3339, w.Start)
		p.Window.End, _ = time.Parse(time.RFC3339, w.End)
	}
	l.plan, err = renewal.Build(l.sequence(), p)
	if err != nil {
		return nil, usageErr(fmt.Errorf("the configuration %s does not give a usable plan: %w", c.path, planProblems(err)))
	}
	return l, nil
}

// openEmbeddedCA opens the embedded CA kept in ca.embedded.dir. A run
// makes it there (ca.pem, and ca.key 0600) if the folder holds none yet,
// so that every later run finds the same root; a plan only reads it, and
// refuses a folder that holds no CA (the plan must name the new root).
func openEmbeddedCA(c *config, mode openMode) (*local.CA, error) {
	x := c.CA.Embedded
	dir := c.file(x.Dir)
	if mode == forPlan {
		if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
			return nil, usageErr(fmt.Errorf("the embedded CA's folder %s (configuration %s) holds no CA yet (ca.pem and ca.key): certroll renew %s makes one there, or certroll config demo DIR writes a whole landscape with one", dir, c.path, c.path))
		}
	}
	name := x.Name
	if name == "" {
		name = "New Root CA"
	}
	ca, err := local.NewCA(local.CAConfig{Name: name, Dir: dir})
	if err != nil {
		return nil, usageErr(fmt.Errorf("the embedded CA in %s (configuration %s) cannot be opened: %w", dir, c.path, err))
	}
	return ca, nil
}

// sequence is the configured sequence; choose is overlap when the
// receiver accepts two roots and two client certificates at once, which
// every receiver certroll configures does (nginx's bundle and map,
// HAProxy's ca-file and ACL, the command receiver's files, the embedded
// one's truststore and list), so choose means downtime only for a
// receiver that cannot.
func (l *landscape) sequence() renewal.Sequence {
	switch l.cfg.Sequence {
	case "downtime":
		return renewal.SequenceDowntime
	case "overlap":
		return renewal.SequenceOverlap
	}
	if l.acceptsTwo() {
		return renewal.SequenceOverlap
	}
	return renewal.SequenceDowntime
}

// acceptsTwo says whether the receiver can trust two roots and pin two
// client certificates at once.
func (l *landscape) acceptsTwo() bool {
	r := l.cfg.Receiver
	return r.Nginx != nil || r.HAProxy != nil || r.Command != nil || r.Embedded != nil
}

func (l *landscape) truststoreName() string {
	c, r := l.cfg, l.cfg.Receiver
	switch {
	case r.Nginx != nil:
		return c.file(r.Nginx.ClientCA)
	case r.HAProxy != nil:
		return c.file(r.HAProxy.CAFile)
	case r.Command != nil:
		return c.file(r.Command.TrustFile)
	case r.Embedded != nil:
		return c.file(r.Embedded.Truststore)
	}
	return ""
}

// makeAdapters makes the CA, receiver, runtime and notifier.
func (l *landscape) makeAdapters(e *env, mode openMode, ksPath string, pw []byte, caPool []*x509.Certificate) error {
	c := l.cfg
	switch {
	case c.CA.Handoff != nil:
		dir := c.file(c.CA.Handoff.Dir)
		if mode == forRun {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return usageErr(fmt.Errorf("the hand-over folder %s: %w", dir, err))
			}
		}
		ca := &handoff.CA{Dir: dir, Pool: caPool}
		l.ca = ca
		l.adapters = append(l.adapters, ca)
	case c.CA.Command != nil:
		cc := c.CA.Command
		ca := &command.CA{Argv: cc.Argv, Dir: c.workDir(cc.Dir), Timeout: time.Duration(cc.Timeout), Pool: caPool}
		l.ca = ca
		l.adapters = append(l.adapters, ca)
	}

	r := c.Receiver
	var embedded *local.Receiver
	switch {
	case r.Nginx != nil:
		x := r.Nginx
		roots, err := certPool(c, x.ServerRoots)
		if err != nil {
			return err
		}
		rcv, err := nginx.NewReceiver(nginx.Config{
			ClientCA: c.file(x.ClientCA), PinMap: c.file(x.PinMap), AccessLog: c.file(x.AccessLog),
			Nginx: x.Nginx, Prefix: c.file(x.Prefix), ConfFile: c.file(x.ConfFile), PidFile: c.file(x.PidFile),
			ReloadSignal: x.ReloadSignal, Addr: x.Addr, URL: x.URL, ServerName: x.ServerName,
			ServerRoots: roots, Timeout: time.Duration(x.Timeout),
		})
		if err != nil {
			return usageErr(fmt.Errorf("the nginx receiver of %s: %w", c.path, err))
		}
		l.receiver = rcv
		l.adapters = append(l.adapters, rcv)
	case r.HAProxy != nil:
		x := r.HAProxy
		roots, err := certPool(c, x.ServerRoots)
		if err != nil {
			return err
		}
		files := make([]string, len(x.ConfigFiles))
		for i, f := range x.ConfigFiles {
			files[i] = c.file(f)
		}
		rcv, err := haproxy.NewReceiver(haproxy.Config{
			CAFile: c.file(x.CAFile), PinnedACL: c.file(x.PinnedACL), AccessLog: c.file(x.AccessLog),
			HAProxy: x.HAProxy, ConfigFiles: files, MasterSocket: c.file(x.MasterSocket), PidFile: c.file(x.PidFile),
			URL: x.URL, ServerName: x.ServerName, ServerRoots: roots, Timeout: time.Duration(x.Timeout),
		})
		if err != nil {
			return usageErr(fmt.Errorf("the HAProxy receiver of %s: %w", c.path, err))
		}
		l.receiver = rcv
		l.adapters = append(l.adapters, rcv)
	case r.Command != nil:
		x := r.Command
		roots, err := certPool(c, x.ServerRoots)
		if err != nil {
			return err
		}
		tpw, err := c.readPassword(x.Password, "receiver truststore password")
		if err != nil {
			return err
		}
		l.secrets = append(l.secrets, tpw)
		rcv, err := command.NewReceiver(command.Config{
			TrustFile: c.file(x.TrustFile), TrustKind: trustKindFor(x.TrustKind, x.TrustFile), TrustPassword: tpw,
			AcceptedList: c.file(x.AcceptedList), AcceptedFormat: listFormats[x.AcceptedFormat],
			Check: x.Check, Reload: x.Reload, Timeout: time.Duration(x.Timeout), AccessLog: c.file(x.AccessLog),
			URL: x.URL, ServerName: x.ServerName, ServerRoots: roots,
		})
		if err != nil {
			return usageErr(fmt.Errorf("the command receiver of %s: %w", c.path, err))
		}
		l.receiver = rcv.Adapter()
		if x.AccessLog != "" {
			obs, err := rcv.Observing()
			if err != nil {
				return usageErr(fmt.Errorf("the command receiver of %s: %w", c.path, err))
			}
			l.receiver = obs
		}
		l.adapters = append(l.adapters, rcv)
	case r.Embedded != nil:
		x := r.Embedded
		tpw, err := c.readPassword(x.Password, "receiver truststore password")
		if err != nil {
			return err
		}
		l.secrets = append(l.secrets, tpw)
		if mode == forRun {
			embedded, err = local.NewReceiver(local.ReceiverConfig{
				Truststore: c.file(x.Truststore), TruststoreKind: trustKinds[strings.ToUpper(x.TruststoreKind)],
				TruststorePassword: tpw, Accepted: c.file(x.Accepted),
			})
			if err != nil {
				return usageErr(fmt.Errorf("the embedded receiver of %s: %w", c.path, err))
			}
			l.receiver = embedded
			l.closers = append(l.closers, func() { embedded.Close() })
			prev := l.start
			l.start = func(ctx context.Context) error {
				if _, err := embedded.Start(); err != nil {
					return err
				}
				return prev(ctx)
			}
		}
	}

	rt := c.Runtime
	switch {
	case rt.Embedded != nil:
		n := rt.Embedded.Nodes
		if n == 0 {
			n = 2
		}
		if mode == forPlan || embedded == nil {
			l.runtime = namedNodes(n)
			break
		}
		lr, err := local.NewRuntime(local.RuntimeConfig{Nodes: n, Keystore: ksPath, KeystorePassword: pw,
			Alias: c.Tenant.Alias, Receiver: embedded, Rate: rt.Embedded.Rate})
		if err != nil {
			return usageErr(fmt.Errorf("the embedded runtime of %s: %w", c.path, err))
		}
		l.runtime = lr
		prev := l.start
		l.start = func(ctx context.Context) error {
			if err := prev(ctx); err != nil {
				return err
			}
			return lr.StartAll(ctx)
		}
		l.traffic = func(ctx context.Context) string {
			s := lr.Run(ctx)
			return fmt.Sprintf("%d messages sent by the nodes, %d failed", s.Total, s.Failed)
		}
	case rt.Java != nil:
		j := rt.Java
		roots, err := readCertFiles(c, j.ServerRoots)
		if err != nil {
			return err
		}
		jr, err := java.New(java.Config{Nodes: j.Nodes, Keystore: ksPath, KeystorePassword: pw, URL: j.URL,
			ServerRoots: roots, Rate: j.Rate, Timeout: time.Duration(j.Timeout), Java: j.Java, JVMOptions: j.JVMOptions,
			// Beside the configuration, so that the runbook's Node.java stays.
			Dir: c.path + ".java"})
		if err != nil {
			return usageErr(fmt.Errorf("the Java runtime of %s: %w", c.path, err))
		}
		l.runtime = jr
		l.adapters = append(l.adapters, jr)
		l.closers = append(l.closers, func() { jr.Close() })
		if mode == forRun {
			prev := l.start
			l.start = func(ctx context.Context) error {
				if err := prev(ctx); err != nil {
					return err
				}
				return jr.StartAll(ctx)
			}
			l.traffic = func(ctx context.Context) string {
				<-ctx.Done()
				s := jr.Stats()
				return fmt.Sprintf("%d requests sent by the Java nodes, %d failed", s.Requests, s.Failures)
			}
		}
	case rt.Command != nil:
		x := rt.Command
		nodes := make([]command.Node, len(x.Nodes))
		for i, n := range x.Nodes {
			nodes[i] = command.Node{Name: n.Name, Stop: n.Stop, Start: n.Start, Restart: n.Restart, Presents: n.Presents}
		}
		cr, err := command.NewRuntime(command.RuntimeConfig{Nodes: nodes, Timeout: time.Duration(x.Timeout), Dir: c.workDir(x.Dir),
			Known: l.knownCerts})
		if err != nil {
			return usageErr(fmt.Errorf("the command runtime of %s: %w", c.path, err))
		}
		l.runtime = cr
		l.adapters = append(l.adapters, cr)
	}
	if len(c.Notifier.Command) > 0 {
		l.notifier = &commandNotifier{argv: c.Notifier.Command, dir: c.dir, progress: e}
	} else {
		// With --json, standard output holds one JSON document only.
		w := e.stdout
		if e.json {
			w = e.stderr
		}
		l.notifier = &local.Notifier{W: w}
	}
	return nil
}

// knownCerts gives a command runtime's Presents fingerprints their
// certificates: the old one, and the new one once the tenant holds it.
func (l *landscape) knownCerts(context.Context) ([]*x509.Certificate, error) {
	certs := []*x509.Certificate{l.oldLeaf}
	ks, err := keystore.Open(l.tenant.Keystore, l.tenant.Password, nil)
	if err == nil {
		if live, err := ks.Certificates(l.tenant.Alias); err == nil && len(live) > 0 {
			certs = append(certs, live[0])
		}
	}
	if p, err := l.tenant.Pending(); err == nil && p != nil && len(p.Chain) > 0 {
		certs = append(certs, p.Chain[0])
	}
	return certs, nil
}

// describeSource says where a configured password comes from, for an
// error (never the password itself).
func describeSource(p *passwordConfig) string {
	switch {
	case p == nil:
		return "none given"
	case p.Env != "":
		return "the environment variable " + p.Env
	case p.File != "":
		return "the file " + p.File
	}
	return "the prompt"
}

// namedNodes is a runtime that only names its nodes, for a plan of the
// embedded landscape (whose nodes run only while certroll renew runs).
type namedNodes int

func (n namedNodes) Nodes(context.Context) ([]string, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = "node-" + strconv.Itoa(i+1)
	}
	return names, nil
}
func (namedNodes) Stop(context.Context, string) error    { return errNotRunning }
func (namedNodes) Start(context.Context, string) error   { return errNotRunning }
func (namedNodes) Restart(context.Context, string) error { return errNotRunning }
func (namedNodes) Presents(context.Context, string) (*x509.Certificate, error) {
	return nil, errNotRunning
}

var errNotRunning = errors.New("the embedded runtime runs only inside certroll renew")

// readCerts reads the certificates of a PEM or DER file.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr(fmt.Errorf("the certificate file %s cannot be read: %w", path, errors.Unwrap(err)))
	}
	certs, err := keystore.ParseCertificates(data)
	if err != nil || len(certs) == 0 {
		return nil, usageErr(fmt.Errorf("the certificate file %s holds no certificate (PEM or DER): %v", path, err))
	}
	return certs, nil
}

func readCertFiles(c *config, files []string) ([]*x509.Certificate, error) {
	var all []*x509.Certificate
	for _, f := range files {
		certs, err := readCerts(c.file(f))
		if err != nil {
			return nil, err
		}
		all = append(all, certs...)
	}
	return all, nil
}

func certPool(c *config, files []string) (*x509.CertPool, error) {
	if len(files) == 0 {
		return nil, nil
	}
	certs, err := readCertFiles(c, files)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	for _, cert := range certs {
		p.AddCert(cert)
	}
	return p, nil
}

// commandNotifier runs a command per hand-off, with the message on its
// standard input and the step in its environment (CERTROLL_STEP, the
// number; CERTROLL_STEP_ID; CERTROLL_ROLE, who hands off; CERTROLL_TO, to
// whom). A hand-off that waits for a confirmation counts the command's
// success as the confirmation, bounded by the wait.
type commandNotifier struct {
	argv     []string
	dir      string
	progress *env
}

func (n *commandNotifier) HandOff(ctx context.Context, step renewal.Step, message string, wait time.Duration) error {
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, n.argv[0], n.argv[1:]...)
	cmd.Dir = n.dir
	cmd.Stdin = strings.NewReader(message + "\n")
	cmd.Env = append(os.Environ(),
		"CERTROLL_STEP="+strconv.Itoa(step.Number),
		"CERTROLL_STEP_ID="+string(step.ID),
		"CERTROLL_ROLE="+string(step.Role),
		"CERTROLL_TO="+string(step.To))
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out)
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return fmt.Errorf("the notifier command %s failed for step %d: %w: %s", n.argv[0], step.Number, err, msg)
	}
	n.progress.progress("step %d: hand-off sent with %s", step.Number, n.argv[0])
	return nil
}

// trustKindFor is the kind of the command receiver's trust file: the one
// the configuration names, or else the one its name says (.pem, .crt,
// .cer: a PEM bundle; .p12, .pfx: PKCS#12; anything else: JKS).
func trustKindFor(kind, file string) truststore.Kind {
	if kind != "" {
		return trustKinds[strings.ToUpper(kind)]
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".pem", ".crt", ".cer":
		return truststore.PEMBundle
	case ".p12", ".pfx":
		return truststore.PKCS12
	}
	return truststore.JKS
}

// planFields names the plan parameters a configuration gives by their key
// in the file, so that an error says window.end and not a Go field.
var planFields = map[string]string{
	"Window": "window", "Window.Start": "window.start", "Window.End": "window.end",
	"Window.Description": "window.description", "Alias": "tenant.alias", "Keystore": "tenant.keystore",
	"KeystoreFormat": "tenant.format", "Truststore": "receiver",
	"Nodes":          "runtime (its nodes)",
	"OldFingerprint": "tenant.alias (the certificate it holds)",
	"OldRootSubject": "old_root (the old CA's root)", "OldRootFingerprint": "old_root (the old CA's root)",
	"NewRootSubject": "ca or new_root (the new CA's root)", "NewRootFingerprint": "ca or new_root (the new CA's root)",
	"NewFingerprint": "ca (the new certificate)",
}

// nodeIndex is a node named by its index in the plan's parameters.
var nodeIndex = regexp.MustCompile(`Nodes\[[0-9]+\]`)

// planKey returns the configuration key of a plan parameter's field, or
// false if the configuration does not give it.
func planKey(field string) (string, bool) {
	if rest, ok := strings.CutPrefix(field, "Nodes["); ok {
		if i, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil {
			return fmt.Sprintf("runtime (node %d)", i+1), true
		}
	}
	key, ok := planFields[field]
	return key, ok
}

// planProblems rewrites the plan's parameter errors in the
// configuration's terms, each on its own line.
func planProblems(err error) error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var lines []string
	for _, e := range errs {
		var pe *renewal.PlanError
		if !errors.As(e, &pe) {
			lines = append(lines, plainErr(e))
			continue
		}
		if key, ok := planKey(pe.Field); ok {
			// A node's reason may name another by its Go index.
			reason := nodeIndex.ReplaceAllStringFunc(pe.Reason, func(m string) string {
				i, _ := strconv.Atoi(m[len("Nodes[") : len(m)-1])
				return fmt.Sprintf("node %d", i+1)
			})
			lines = append(lines, fmt.Sprintf("%s: %s", key, reason))
			continue
		}
		// A field the configuration does not give: the reason only,
		// never a Go field's name.
		lines = append(lines, pe.Reason)
	}
	return errors.New(strings.Join(lines, "; "))
}
