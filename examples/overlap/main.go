// Command overlap runs the renewal of a tenant client certificate for a
// receiver that accepts the old and the new certificate at the same time,
// on one machine over real TLS, with traffic flowing throughout.
//
//	go run ./examples/overlap [-format jks|pkcs12] [-nodes N] [-rate R] [-dir D]
//	                          [-runbook] [-skip-restart-node K] [-drain T] [-summary FILE]
//	                          [-landscape embedded|real] [-stale-ca-names]
//
// It builds an old CA and a new CA, a tenant keystore whose alias the old
// CA signed, the receiver's truststore and HTTPS server (which requires
// client certificates), and N runtime nodes that send requests
// continuously and cache their TLS configuration until restarted. It
// prints the runbook, runs the nine steps showing each step's role, and
// ends with a summary: requests sent, failed and skipped (a node that
// falls behind its schedule skips requests, and the summary shows the
// rate achieved next to the one asked for), fingerprints before and
// after, files written. Before the old certificate and root are removed
// the run waits until the receiver has seen no handshake with the old
// certificate for -drain (500ms), so that requests still on the way from
// nodes just restarted are not refused.
//
// With -dir the files stay; a run interrupted (Ctrl-C, a kill, even
// during the set-up) and started again with the same -dir resumes from
// its journal without repeating a destructive step. A -dir made by
// another run (the other sequence, another -format or -nodes) is refused,
// naming what differs. With -skip-restart-node K node K keeps its
// cached configuration: the gate after the restart (step 7) stops the
// run, names node K, and the old root stays trusted.
//
// With -stale-ca-names the receiver trusts the new root from step 3 on but
// keeps naming only the old root when it asks for a client certificate,
// as HAProxy 2.6 does after set ssl ca-file and commit ssl ca-file on its
// runtime API without a reload. curl would still get through; a Java
// client, which presents only a certificate whose issuer the server names,
// would send none once it holds the new certificate. The gate before the
// keystore's entry is replaced (step 5) presents the new certificate to
// the receiver and stops the run there: 0 failed requests, the keystore
// untouched, and the example says what to do. Run again with the same
// -dir and without the flag (the receiver as a reload leaves it) to
// resume.
//
// With -landscape real the receiver is a real nginx on a free port of
// 127.0.0.1 (renewal/nginx: its client-CA bundle and pin map, nginx -t and
// a reload for every change, the access log for the drain) and the nodes
// are JVMs running renewal/java's Node.java, which cache the keystore
// until restarted and choose their certificate with Java's default key
// manager. nginx's configuration, certificates, bundle, pin map and logs
// are in the landscape's directory (nginx/), nginx runs with -p and -c
// there and is stopped at the end. It needs nginx and JDK 17's java on
// the PATH or in /usr/sbin (apt-get install -y nginx
// openjdk-17-jdk-headless); -rate defaults to 20 and -drain to 2s there,
// since a JVM runs a full handshake a request and nginx logs whole
// seconds. The CA is the embedded one in both landscapes.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/examples/internal/landscape"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/java"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/nginx"
	"github.com/certroll/certroll/renewal/probe"
)

func main() { os.Exit(command(os.Args[1:], os.Stdout, os.Stderr)) }

// command parses the flags, runs the renewal, writes the summary and
// returns the exit status: 0 when the renewal completed, 1 when it
// stopped (a failed gate among the reasons), 2 for a bad command line.
func command(args []string, out, errOut io.Writer) int {
	f, ok := landscape.ParseFlags("overlap", args, errOut)
	if !ok {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := renew(ctx, f, out)
	if sum != nil && f.Summary != "" {
		if err := sum.Write(f.Summary); err != nil {
			fmt.Fprintln(errOut, err)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(errOut, "overlap:", landscape.Explain(err))
		if advice := staleNamesAdvice(err, f.Dir); advice != "" {
			fmt.Fprintf(errOut, "\n%s\n", advice)
		}
		return 1
	}
	return 0
}

// staleNamesAdvice returns, for a run stopped because the receiver does
// not advertise the new root's name (the probe of the gate before the
// keystore is touched found it missing), what that means and what to do,
// in the words of the people who run the renewal; "" for any other
// error.
func staleNamesAdvice(err error, dir string) string {
	var pe *probe.Error
	if !errors.As(err, &pe) || pe.Missing == nil {
		return ""
	}
	advertised := "no root at all"
	if names := pe.Result.AdvertisedNames(); len(names) > 0 {
		advertised = "only " + strings.Join(names, " and ")
	}
	resume := fmt.Sprintf("then run again with the same directory to resume: go run ./examples/overlap -dir %s", dir)
	if dir == "" {
		resume = "then run again to resume; this run kept its files in a temporary directory, now removed, so give -dir DIR to both runs (the first with -stale-ca-names)"
	}
	return fmt.Sprintf("The receiver trusts the new root %s but does not advertise it: when it asks for a client certificate it names %s. "+
		"A Java client presents only a certificate whose issuer the receiver names, so Java clients will not present the new certificate: restarted on the new keystore, the nodes would send none and every request would fail. "+
		"The renewal stopped before replacing the keystore entry: the nodes still present the old certificate, nothing was removed.\n"+
		"What to do: reload the receiver so that it advertises both the old and the new root "+
		"(HAProxy: a reload of the master, not only set ssl ca-file and commit ssl ca-file on its runtime API; nginx: nginx -t, then nginx -s reload; "+
		"here, a run without -stale-ca-names starts the receiver as a reload leaves it), %s.",
		chain.Name(pe.Missing), advertised, resume)
}

// renew runs the overlap renewal on this machine while the runtime's
// nodes send requests, and returns the summary.
func renew(ctx context.Context, f *landscape.Flags, out io.Writer) (*landscape.Summary, error) {
	// -landscape real runs nginx and java: nothing is built without them.
	var programs *landscape.Programs
	if f.Real {
		var err error
		if programs, err = landscape.FindPrograms(); err != nil {
			return nil, err
		}
	}

	// The landscape the renewal starts from: an old CA and a new CA, the
	// tenant keystore whose alias the old CA signed, the receiver's files
	// trusting the old root and accepting the old client certificate (the
	// embedded receiver's truststore and accepted list, or nginx's
	// client-CA bundle and pin map), and the plan, in -dir or in a
	// temporary directory.
	// A -dir of an interrupted run is reopened as it was.
	dir, cleanup, err := landscape.TempDir(f.Dir, "overlap")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	l, err := landscape.Open(dir, landscape.Options{Sequence: renewal.SequenceOverlap, Format: f.Format, Nodes: f.Nodes, Real: f.Real})
	if err != nil {
		return nil, err
	}

	plan := l.Plan

	// The receiver and the runtime's nodes: embedded in this process, or
	// a real nginx and JVMs on this machine (-landscape real).
	var p *parties
	if f.Real {
		p, err = realLandscape(ctx, f, l, programs)
	} else {
		p, err = embeddedLandscape(f, l)
	}
	if err != nil {
		return nil, err
	}
	defer p.close()
	receiver, runtime := p.receiver, p.runtime

	// The plan is data: the runbook people follow is printed from it,
	// with the commands of the adapters that know theirs (the CA, the
	// receiver and the runtime the executor runs with).
	adapters := append([]any{l.NewCA}, p.adapters...)
	if f.Runbook {
		fmt.Fprintf(out, "%s\n```mermaid\n%s```\n", plan.Markdown(adapters...), plan.Mermaid())
		return nil, nil
	}
	l.Describe(out, adapters...)

	// The nodes read the tenant keystore when they start and present its
	// certificate until they are restarted.
	if err := runtime.StartAll(ctx); err != nil {
		return nil, err
	}
	if f.SkipRestart > 0 {
		// The node the integration developer forgets: its restart leaves
		// it on the certificate it cached.
		if err := runtime.SkipRestart(fmt.Sprintf("node-%d", f.SkipRestart)); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "receiver listening on %s; %d nodes sending %.0f requests/s each\n\n", p.url, f.Nodes, f.Rate)
	traffic, err := landscape.StartTraffic(ctx, runtime, f.Nodes, f.Rate)
	if err != nil {
		return nil, err
	}
	time.Sleep(f.StepPause) // traffic before the first step

	// The executor runs the plan's nine steps against the new CA, the
	// receiver, the runtime and a notifier that prints the hand-offs,
	// recording each step in the journal so that a run interrupted and
	// started again does only what is left.
	progress := landscape.Progress(out, len(plan.Steps))
	x := &renewal.Executor{
		Plan:        plan,
		Tenant:      &renewal.Tenant{Keystore: l.Keystore, Password: landscape.Password, Alias: landscape.Alias},
		Journal:     l.Journal,
		CA:          l.NewCA,
		Receiver:    receiver,
		Runtime:     runtime,
		Notifier:    &local.Notifier{W: landscape.Indent(out)},
		HandOverDir: l.HandOver,
		OldRoot:     l.OldCA.Root(),
		Drain:       f.Drain,
		OnEvent: func(ev renewal.Event) {
			progress(ev)
			if ev.Kind == renewal.EventStepDone || ev.Kind == renewal.EventStepSkipped {
				time.Sleep(f.StepPause) // every phase of the renewal carries load
			}
		},
	}
	res, runErr := x.Run(ctx)
	time.Sleep(f.StepPause) // traffic after the last step

	// What happened: the steps done, every request counted, and what the
	// receiver trusts now.
	sum, err := l.Summarize(res, runErr, receiver, traffic.Stop(), landscape.Window{})
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	sum.Print(out)
	return sum, runErr
}

// parties are the receiver and the runtime a renewal runs against, the URL
// the nodes send to, and what stops them.
type parties struct {
	receiver landscape.Receiver
	runtime  landscape.Runtime
	url      string
	close    func()
	// adapters are the receiver and the runtime as the runbook asks
	// them for their commands (renewal.Instructor).
	adapters []any
}

// embeddedLandscape starts the receiver and the nodes in this process.
func embeddedLandscape(f *landscape.Flags, l *landscape.Landscape) (*parties, error) {
	// The receiver: an HTTPS server on 127.0.0.1 that requires a client
	// certificate, and trusts and accepts what its two files say.
	receiver, err := local.NewReceiver(local.ReceiverConfig{
		Truststore:         l.Truststore,
		TruststorePassword: landscape.Password,
		Accepted:           l.Accepted,
	})
	if err != nil {
		return nil, err
	}
	url, err := receiver.Start()
	if err != nil {
		return nil, err
	}
	if f.StaleCANames {
		// The receiver updated the way HAProxy 2.6's runtime API does (set
		// ssl ca-file, commit ssl ca-file) and not reloaded: it verifies
		// every root its truststore holds, the new one from step 3 on,
		// but names only the old root in its CertificateRequest. Until
		// step 3 the old root is all it trusts, so this changes nothing
		// before then.
		if err := receiver.AdvertiseOnly(l.OldCA.Root()); err != nil {
			receiver.Close()
			return nil, err
		}
	}

	// The runtime: nodes that read the tenant keystore when they start
	// and present its certificate until they are restarted.
	runtime, err := local.NewRuntime(local.RuntimeConfig{
		Nodes:            f.Nodes,
		Keystore:         l.Keystore,
		KeystorePassword: landscape.Password,
		Alias:            landscape.Alias,
		Receiver:         receiver,
		Rate:             f.Rate,
	})
	if err != nil {
		receiver.Close()
		return nil, err
	}
	return &parties{receiver: receiver, runtime: runtime, url: url, close: func() { receiver.Close() },
		adapters: []any{receiver, runtime}}, nil
}

// realLandscape starts nginx on 127.0.0.1 and the JVM nodes, with their
// files in the landscape's directory.
func realLandscape(ctx context.Context, f *landscape.Flags, l *landscape.Landscape, programs *landscape.Programs) (*parties, error) {
	// nginx, on a free port of 127.0.0.1, configured as the renewal/nginx
	// package documents: the client-CA bundle, the pin map and the
	// access log that names each request's certificate.
	server, err := landscape.StartNginx(programs.Nginx, l.Nginx)
	if err != nil {
		return nil, err
	}

	// The receiver edits nginx's bundle and pin map, runs nginx -t,
	// reloads nginx and waits until it advertises the bundle's CA names;
	// a failed test or reload rolls the files back. With its URL the
	// executor's gates probe nginx with a real handshake: the new
	// certificate must be verified, not refused (400, 403), and the new
	// root's name advertised, so that a Java node would present it.
	roots := x509.NewCertPool()
	roots.AddCert(server.ServerRoot)
	receiver, err := nginx.NewReceiver(nginx.Config{
		ClientCA:    l.Nginx.ClientCA,
		PinMap:      l.Nginx.PinMap,
		AccessLog:   l.Nginx.AccessLog,
		Nginx:       programs.Nginx,
		Prefix:      l.Nginx.Dir,
		ConfFile:    l.Nginx.Conf,
		PidFile:     l.Nginx.PidFile,
		Addr:        server.Addr,
		URL:         server.URL,
		ServerRoots: roots,
	})
	if err != nil {
		server.Stop()
		return nil, err
	}

	// The runtime: JVMs running Node.java, each loading the tenant
	// keystore once and choosing its certificate with Java's default key
	// manager, until it is restarted.
	jvms, err := java.New(java.Config{
		Nodes:            f.Nodes,
		Keystore:         l.Keystore,
		KeystorePassword: landscape.Password,
		URL:              server.URL,
		ServerRoots:      []*x509.Certificate{server.ServerRoot},
		Rate:             f.Rate,
		Java:             programs.Java,
		Dir:              l.JavaDir,
		MaxFailures:      100_000,
	})
	if err != nil {
		server.Stop()
		return nil, err
	}
	runtime, err := landscape.NewJavaNodes(ctx, jvms)
	if err != nil {
		jvms.Close()
		server.Stop()
		return nil, err
	}
	return &parties{receiver: receiver, runtime: runtime, url: server.URL, adapters: []any{receiver, jvms}, close: func() {
		jvms.Close()
		server.Stop()
	}}, nil
}
