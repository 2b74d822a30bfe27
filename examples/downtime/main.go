// Command downtime runs the renewal of a tenant client certificate for a
// receiver that accepts only one client certificate at a time: the flow
// is stopped for a window in which the tenant and the receiver swap, then
// restarted on every node. It runs on one machine over real TLS, with the
// runtime nodes' messages failing only inside the window.
//
//	go run ./examples/downtime [-format jks|pkcs12] [-nodes N] [-rate R] [-dir D]
//	                           [-runbook] [-skip-restart-node K] [-drain T] [-summary FILE]
//	                           [-landscape embedded|real]
//
// The flags are those of examples/overlap; the summary adds the window and
// the failures outside it (zero when all went well). With
// -skip-restart-node K node K is forgotten when the flow is restarted: it
// stays stopped, the gate after the restart names it, and the run stops
// there. With -landscape real it runs against a real nginx and JVM nodes,
// as examples/overlap describes; the messages due while the JVMs are
// stopped are counted as failed, as those of the embedded nodes are.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/certroll/certroll/examples/internal/landscape"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/java"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/nginx"
)

func main() { os.Exit(command(os.Args[1:], os.Stdout, os.Stderr)) }

// command parses the flags, runs the renewal, writes the summary and
// returns the exit status: 0 when the renewal completed, 1 when it
// stopped (a failed gate among the reasons), 2 for a bad command line.
func command(args []string, out, errOut io.Writer) int {
	f, ok := landscape.ParseFlags("downtime", args, errOut)
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
		fmt.Fprintln(errOut, "downtime:", landscape.Explain(err))
		return 1
	}
	return 0
}

// renew runs the downtime renewal on this machine while the runtime's
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
	dir, cleanup, err := landscape.TempDir(f.Dir, "downtime")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	l, err := landscape.Open(dir, landscape.Options{Sequence: renewal.SequenceDowntime, Format: f.Format, Nodes: f.Nodes, Real: f.Real})
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

	// A run resumed inside the downtime window finds the flow stopped;
	// the executor starts it again at its restart step.
	stopped, err := l.FlowStopped()
	if err != nil {
		return nil, err
	}
	if !stopped {
		if err := runtime.StartAll(ctx); err != nil {
			return nil, err
		}
	}
	if f.SkipRestart > 0 {
		// The node the integration developer forgets: once the flow is
		// stopped, it stays stopped.
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

	// The executor runs the plan's twelve steps against the new CA, the
	// receiver, the runtime and a notifier that prints the hand-offs,
	// recording each step in the journal so that a run interrupted and
	// started again does only what is left.
	progress := landscape.Progress(out, len(plan.Steps))
	var window landscape.Window
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
			// The window opens when the flow starts stopping and closes
			// when it runs again on every node.
			switch {
			case ev.Kind == renewal.EventStepStarted && ev.Step.ID == renewal.StepStopFlow:
				window.Start = ev.Time
			case ev.Kind == renewal.EventStepDone && ev.Step.ID == renewal.StepRestartNodes:
				window.End = ev.Time
			}
			if ev.Kind == renewal.EventStepDone || ev.Kind == renewal.EventStepSkipped {
				time.Sleep(f.StepPause) // every phase of the renewal carries load
			}
		},
	}
	res, runErr := x.Run(ctx)
	if window.Start.IsZero() != window.End.IsZero() || (!window.Start.IsZero() && window.End.Before(window.Start)) {
		window.End = time.Now() // the run stopped inside the window
	}
	time.Sleep(f.StepPause) // traffic after the last step

	// What happened: the steps done, every request counted, and what the
	// receiver trusts now.
	sum, err := l.Summarize(res, runErr, receiver, traffic.Stop(), window)
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
