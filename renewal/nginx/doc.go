// Package nginx is a [renewal.Receiver] for nginx: it edits the client-CA
// bundle and the pinning map nginx reads, runs `nginx -t` before every
// reload and refuses to reload a configuration that fails it (the edits
// are rolled back byte for byte), reloads nginx, and waits until the new
// configuration answers.
//
// # Configuration
//
// The server block that receives the client certificates reads the
// bundle of trusted roots and requires a client certificate; a map names
// the pinned certificates by the SHA-1 fingerprint nginx prints, and every
// other certificate gets 403. The administrator adds, in the http block:
//
//	map $ssl_client_fingerprint $certroll_pinned {
//	    default 0;
//	    include /etc/nginx/certroll/pinned-clients.map;
//	}
//	log_format certroll '$time_iso8601 $ssl_client_fingerprint $status';
//
// and in the server block:
//
//	ssl_client_certificate /etc/nginx/certroll/client-ca.pem;
//	ssl_verify_client on;
//	access_log /var/log/nginx/certroll-clients.log certroll;
//	if ($certroll_pinned = 0) {
//	    return 403;
//	}
//
// The map file holds one line a pinned certificate,
// "<SHA-1 of the certificate, 40 lower-case hex digits> 1;", and comment
// lines; the receiver keeps every line a person wrote and puts the PEM of
// each certificate it adds in comment lines above its entry. Create both
// files before nginx starts (nginx refuses an ssl_client_certificate file
// without a certificate), for example with the root of the current client
// certificate and the line `openssl x509 -in client.pem -noout -fingerprint
// -sha1 | tr -d : | tr A-F a-f | sed 's/.*=//; s/$/ 1;/'` prints.
//
// # Usage
//
//	rcv, err := nginx.NewReceiver(nginx.Config{
//		ClientCA:  "/etc/nginx/certroll/client-ca.pem",
//		PinMap:    "/etc/nginx/certroll/pinned-clients.map",
//		AccessLog: "/var/log/nginx/certroll-clients.log",
//		PidFile:   "/run/nginx.pid",
//		URL:       "https://receiver.example:8443/health", // for Probe and the reload wait
//		ServerRoots: serverRoots, // verifies nginx's server certificate; nil: system roots
//	})
//
// Each change runs `nginx -t -q` (with Config.Prefix as -p and
// Config.ConfFile as -c), then `nginx -s reload` with the same options (or
// SIGHUP to the pid in Config.PidFile, with Config.ReloadSignal). A change
// that changes nothing (a root already trusted, a certificate already
// pinned) runs neither. By hand, the same is
//
//	nginx -t && nginx -s reload
//
// # Runbook
//
// [Receiver.Instructions] gives the runbook ([renewal.Plan.Markdown] with
// the receiver among its adapters) the commands of each receiver step with
// the configured paths, so that a person can do them by hand. Overlap step
// 3, for example:
//
//	cat new-root.pem >> /etc/nginx/certroll/client-ca.pem
//	openssl x509 -in new-client.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f | sed 's/$/ 1;/' >> /etc/nginx/certroll/pinned-clients.map
//	/usr/sbin/nginx -t
//	/usr/sbin/nginx -s reload
//	openssl s_client -connect receiver.example:8443 </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA names/,/Requested Signature/p'
//
// Step 9 deletes the old map line with sed and the old root's block with
// awk (by comparing it with old-root.pem); the gate before step 5 prints a
// curl line presenting the new chain.
//
// # Waiting for the reload
//
// nginx reloads by starting new worker processes with the new
// configuration and telling the old ones to finish their requests and
// exit; the old ones rename themselves "nginx: worker process is shutting
// down". The receiver reads the master's pid from Config.PidFile, notes its
// workers before the reload, and waits until a new worker runs and every
// old one is gone or shutting down (this reads /proc, so it works on
// Linux). With Config.Addr or Config.URL it then also connects and waits
// until the CA names nginx advertises in its TLS CertificateRequest are
// those of the bundle (probe.CheckAdvertised): what a Java client chooses
// its certificate by. A reload that does not take within Config.Timeout is
// an error: the files are restored and nginx is reloaded with them (a
// *[RolledBackError]); if that reload fails too, the error is an
// *[UnknownStateError]. The receiver writes <ClientCA>.certroll-reload-pending
// before it edits a file and removes it after a reload that took: left on
// disk (the process was killed between the edit and the reload, or the
// state is unknown), it makes the next call test and reload even if it
// changes nothing.
//
// # Probe
//
// With Config.URL (or Config.Addr), [Receiver.Probe] is the receiver
// gate's verdict ([renewal.Prober]): it connects presenting the new chain
// and its key (probe.Probe) and passes only if nginx completes the
// handshake, does not answer 400, 401, 403, 495 or 496, and advertises the
// new root's name.
//
// # Usage seen by the receiver
//
// [Receiver.LastSeen] reads Config.AccessLog, written with the certroll
// log_format above: the latest line with the certificate's SHA-1 is when
// nginx last saw it. nginx logs requests, not failed handshakes: a client
// whose certificate does not verify gets a 400 response, which is logged.
// A log that does not name the certificate gives its start (its first
// line's time, or its modification time when empty) rather than the zero
// time: after a rotation the certificate may have been presented just
// before the log began, so the drain gate waits a drain period.
//
// # Security
//
// The reload wait reads the CA names without sending a certificate or a
// request; it and Probe verify nginx's server certificate against
// Config.ServerRoots (the system roots when nil). Probe's key signs the
// handshake in this process and never leaves it.
package nginx
