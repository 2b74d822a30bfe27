// Package command holds the adapters that run the administrator's own
// commands: for a server certroll has no adapter of its own for (SAP Web
// Dispatcher, Apache httpd, an ABAP back end behind a script), the caller
// names the files the server reads and the commands that check and reload
// it, and the adapter does the edits atomically and runs the commands.
//
// # Usage
//
// [Receiver] edits a trust file (a PEM bundle, or a JKS or PKCS#12
// truststore) and an accepted-certificates list, then runs the check
// command, and the reload command only if the check passed; if either
// fails, every edited file is put back byte for byte and the error carries
// the command's output:
//
//	rcv, err := command.NewReceiver(command.Config{
//		TrustFile:      "/etc/httpd/client-ca.pem",
//		TrustKind:      truststore.PEMBundle,
//		AcceptedList:   "/etc/httpd/pinned-clients.txt",
//		AcceptedFormat: command.SHA256List,
//		Check:          []string{"apachectl", "-t"},
//		Reload:         []string{"apachectl", "-k", "graceful"},
//		Timeout:        30 * time.Second,
//	})
//
// For Apache httpd, the lines that read those files are
//
//	SSLCACertificateFile /etc/httpd/client-ca.pem
//	SSLVerifyClient require
//
// and the pinning is the administrator's (a RewriteMap or a script over the
// list); the list holds one SHA-256 fingerprint a line, as keytool prints
// it ("AB:CD:..."), and comment lines starting with "#".
//
// Commands are argument vectors, run without a shell, with stdin empty,
// the environment of this process and the configured timeout; up to 64 KB
// of their output is kept in the error ([CommandError]).
//
// The runbook ([renewal.Plan.Markdown] with the receiver among its
// adapters) prints under each receiver step what [Receiver.Instructions]
// returns: the edits by hand (cat or awk for a PEM bundle, keytool for a
// truststore, which asks for the password; an openssl line printing the
// certificate's digest in the list's format), then Check and Reload,
// shell-quoted, for the configuration above
//
//	apachectl -t
//	apachectl -k graceful
//
// and, with Config.URL, an openssl s_client line showing the CA names the
// server advertises.
//
// # Accepted-certificates lists
//
// Every list is one entry a line; empty lines and lines starting with "#"
// are kept as they are. [NginxMap] lines are "<sha1 hex, lower-case> 1;"
// (nginx's $ssl_client_fingerprint), [HAProxyACL] lines the SHA-1 in
// upper-case hex (HAProxy's %[ssl_c_sha1,hex]), [SHA256List] lines a
// SHA-256 fingerprint. An entry the receiver adds is preceded by comment
// lines naming the certificate and holding it in PEM, so that the receiver
// can list the certificates it accepts; a server reading the list skips
// them as comments.
//
// # Usage seen by the receiver
//
// With Config.AccessLog set, [Receiver.Observing] returns a receiver that
// also answers [renewal.UsageObserver] from that log: each line starts
// with the time in RFC 3339 and the client certificate's SHA-1 (hex,
// either case) or SHA-256 fingerprint, "-" for none.
//
// # Probe and the executor
//
// Pass [Receiver.Adapter] to the executor: it offers [renewal.Prober] when
// Config.URL is set and [renewal.UsageObserver] when Config.AccessLog is
// set, and neither otherwise, since the executor finds them by type
// assertion. Probe connects to Config.URL presenting the new chain and its
// key (probe.Probe, verifying the server against Config.ServerRoots) and
// passes only if the server completes the handshake, does not refuse the
// client (400, 401, 403, 495, 496) and advertises the new root's name, so
// that a Java client would present the chain. It is the gates' verdict;
// Accepts, read from the files, is the fast first answer.
//
//	rcv, err := command.NewReceiver(command.Config{
//		TrustFile: "/etc/httpd/client-ca.pem", TrustKind: truststore.PEMBundle,
//		Check:     []string{"apachectl", "-t"},
//		Reload:    []string{"apachectl", "-k", "graceful"},
//		URL:       "https://receiver.example:8443/health",
//	})
//	x := &renewal.Executor{Receiver: rcv.Adapter() /* , ... */}
//
// # Security
//
// The truststore password is kept in memory only; it is never passed to a
// command, printed or put in an error. A new trust file is created 0644
// for a PEM bundle (certificates are public) and 0600 for a keystore.
package command
