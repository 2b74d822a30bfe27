// Package haproxy is a [renewal.Receiver] for HAProxy (tested with 2.6) in
// master-worker mode: it edits the CA file of the bind line and a
// fingerprint ACL file, runs `haproxy -c` before every reload and refuses
// to reload a configuration that fails it (the edits are rolled back byte
// for byte), reloads through the master CLI socket or SIGUSR2 to the
// master, and waits until a new worker runs and advertises the CA names of
// the file.
//
// # Configuration
//
// The frontend that receives the client certificates requires one issued
// under a root of the CA file, pins the accepted certificates by their
// SHA-1 in an ACL file, refuses every other one with 403, and logs the
// fingerprint of each request's certificate:
//
//	global
//	    log /dev/log local0
//	frontend receiver
//	    mode http
//	    log global
//	    bind :8443 ssl crt /etc/haproxy/server.pem ca-file /etc/haproxy/certroll/client-ca.pem verify required
//	    log-format "%[date,utime(%Y-%m-%dT%H:%M:%SZ)] %[ssl_c_sha1,hex] %ST"
//	    acl certroll_pinned ssl_c_sha1,hex -m str -f /etc/haproxy/certroll/pinned-clients.acl
//	    http-request deny unless certroll_pinned
//
// `http-request deny` answers 403. The ACL file holds one pinned
// certificate a line, its SHA-1 in 40 upper-case hex digits (what
// %[ssl_c_sha1,hex] prints, compared as a string: -m str), and comment
// lines starting with "#"; the receiver keeps every line a person wrote and
// puts the PEM of each certificate it adds in comment lines above its
// entry. Create both files before HAProxy starts (a ca-file without a
// certificate is refused): the root of the current client certificate,
// and the line
//
//	openssl x509 -in client.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'
//
// prints. HAProxy must run in master-worker mode with a master CLI socket,
// for example (Debian's service file already passes -W and -p):
//
//	haproxy -W -S /run/haproxy-master.sock -p /run/haproxy.pid -f /etc/haproxy/haproxy.cfg
//
// # Usage
//
//	rcv, err := haproxy.NewReceiver(haproxy.Config{
//		CAFile:       "/etc/haproxy/certroll/client-ca.pem",
//		PinnedACL:    "/etc/haproxy/certroll/pinned-clients.acl",
//		AccessLog:    "/var/log/haproxy/certroll-clients.log",
//		ConfigFiles:  []string{"/etc/haproxy/haproxy.cfg"},
//		MasterSocket: "/run/haproxy-master.sock",
//		URL:          "https://receiver.example:8443/health",
//		ServerRoots:  serverRoots, // verifies HAProxy's server certificate; nil: system roots
//	})
//
// Each change runs `haproxy -c -f <each of Config.ConfigFiles>`; if it
// fails, the edited files are restored and HAProxy is not reloaded. It then
// sends `reload` to the master CLI (without Config.MasterSocket: SIGUSR2 to
// the pid in Config.PidFile). A change that changes nothing (a root already
// trusted, a certificate already pinned) runs neither. By hand, the same is
//
//	haproxy -c -f /etc/haproxy/haproxy.cfg && echo reload | socat stdio /run/haproxy-master.sock
//
// (or systemctl reload haproxy, or kill -USR2 $(cat /run/haproxy.pid)).
//
// # Runbook
//
// [Receiver.Instructions] gives the runbook ([renewal.Plan.Markdown] with
// the receiver among its adapters) the commands of each receiver step with
// the configured paths. Overlap step 3, for example:
//
//	cat new-root.pem >> /etc/haproxy/certroll/client-ca.pem
//	openssl x509 -in new-client.pem -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' >> /etc/haproxy/certroll/pinned-clients.acl
//	/usr/sbin/haproxy -c -f /etc/haproxy/haproxy.cfg
//	echo reload | socat stdio /run/haproxy-master.sock
//	openssl s_client -connect receiver.example:8443 </dev/null 2>/dev/null | sed -n '/Acceptable client certificate CA names/,/Requested Signature/p'
//
// # Waiting for the reload
//
// In master-worker mode a reload makes the master re-execute itself, parse
// the configuration and fork a new worker, which takes over the listening
// sockets; the old worker finishes its connections and exits. The receiver
// notes the workers before the reload and waits until a new one runs: with
// the master socket, `show proc` lists a worker that was not there and has
// lived through no reload; a reload the master reports as failed ("[failed:
// 1]") is reported. It waits too until every worker that ran before is
// gone or listed under "# old workers" (told to stop) and no longer holds
// a listening socket (/proc/<pid>/fd against /proc/<pid>/net/tcp): until
// then an old worker may take a new connection with the old files, which
// the CA names cannot show when only the ACL file changed. With SIGUSR2 it
// watches the master's children in /proc (Linux), waits the same way until
// no child of before listens, and sends the signal only when
// /proc/<pid>/status shows that the master handles it: while the master
// starts or re-executes itself, a SIGUSR2 would be lost or end it. The master socket needs none of this and
// is the better choice. The receiver then connects to Config.URL and waits
// until the CA names HAProxy advertises in its TLS CertificateRequest are
// exactly the roots of the CA file: what a Java client chooses its
// certificate by (a new worker alone does not show it). A reload that does not take within Config.Timeout is a
// *[ReloadError]: the files are restored and HAProxy reloaded with them
// (a *[RolledBackError]); if that reload fails too, the error is an
// *[UnknownStateError] and the file <CA file>.certroll-reload-pending
// stays, so that the next call checks and reloads even if it changes
// nothing.
//
// # Why not the runtime API
//
// HAProxy 2.6 can replace a CA file at run time (`set ssl ca-file` then
// `commit ssl ca-file` on the stats socket). Measured on Debian's 2.6.12:
// the new root then verifies, but HAProxy keeps advertising only the old
// root's name in the CertificateRequest, and the file on disk stays old.
// curl gets 200; a JDK 17 client, whose default key manager presents only a
// certificate whose issuer the server names, sends none and fails. The
// receiver therefore does not offer that path; it always writes the file
// and reloads (renewal/probe's tests show both). A receiver that took the
// runtime path anyway is stopped by the executor's probe gate before the
// tenant's entry is swapped, with an error matching probe.ErrNotAdvertised
// that names the new root; this package's tests run that renewal.
//
// # Probe
//
// [Receiver.Probe] is the receiver gate's verdict
// ([renewal.Prober]): it connects presenting the new chain and its key
// (probe.Probe) and passes only if HAProxy completes the handshake, does
// not answer 401 or 403 (or 400, 495, 496), and advertises the new root's
// name.
//
// # Usage seen by the receiver
//
// [Receiver.LastSeen] reads Config.AccessLog: lines "<RFC 3339 time>
// <SHA-1 hex> <status>", as [LogFormat] writes them; the latest line with
// the certificate's SHA-1 is when HAProxy last saw it; a log that names it
// nowhere gives its start (its first line's time, or its modification time
// when empty), so that the drain gate waits a drain period after a
// rotation. HAProxy logs to
// syslog, not to a file: have the syslog daemon write the frontend's
// messages without a header, for rsyslog (/etc/rsyslog.d/49-certroll.conf)
//
//	template(name="certroll" type="string" string="%msg:2:$%\n")
//	if $programname == 'haproxy' then /var/log/haproxy/certroll-clients.log;certroll
//
// or send HAProxy's log raw to a socket whose reader writes each datagram
// as a line (`log /run/certroll-log.sock format raw local0`, which is what
// the tests do), or to a file the master's standard output is appended to
// (`log stdout format raw local0` with systemd's
// StandardOutput=append:/var/log/haproxy/certroll-clients.log). Lines of
// other forms (HAProxy's "SSL handshake failure" lines, for example) are
// skipped.
//
// # Security
//
// The reload wait reads the CA names without sending a certificate or a
// request; it and Probe verify HAProxy's server certificate against
// Config.ServerRoots (the system roots when nil). Probe's key signs the
// handshake in this process and never leaves it. The master CLI socket
// controls HAProxy: keep it mode 0600, owned by the user certroll runs as.
package haproxy
