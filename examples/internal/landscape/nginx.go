package landscape

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/certroll/certroll/internal/atomicfile"
)

// Install is the command that installs the programs of the real
// landscape on Debian and Ubuntu.
const Install = "apt-get install -y nginx openjdk-17-jdk-headless"

// Programs are the programs the real landscape runs.
type Programs struct {
	// Nginx is the nginx program (nginx 1.22 is what the examples are
	// tested with).
	Nginx string
	// Java is the java launcher of JDK 17 or later.
	Java string
}

// MissingProgramsError reports that a program of the real landscape is
// neither on the PATH nor in /usr/sbin.
type MissingProgramsError struct {
	// Missing names the programs not found: "nginx", "java".
	Missing []string
}

func (e *MissingProgramsError) Error() string {
	return fmt.Sprintf("landscape: -landscape real runs nginx and JDK 17's java on this machine, and %s is not on the PATH nor in /usr/sbin; install it: %s",
		strings.Join(e.Missing, " and "), Install)
}

// FindPrograms looks for nginx and java on the PATH and in /usr/sbin and
// /usr/bin (where Debian puts them; /usr/sbin is often not on a user's
// PATH). If either is missing the error is a [*MissingProgramsError]
// giving the apt-get line that installs them.
func FindPrograms() (*Programs, error) { return findPrograms("/usr/sbin", "/usr/bin") }

// findPrograms looks on the PATH, then in dirs.
func findPrograms(dirs ...string) (*Programs, error) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range dirs {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
		return ""
	}
	p := &Programs{Nginx: find("nginx"), Java: find("java")}
	var missing []string
	if p.Nginx == "" {
		missing = append(missing, "nginx")
	}
	if p.Java == "" {
		missing = append(missing, "java")
	}
	if missing != nil {
		return nil, &MissingProgramsError{Missing: missing}
	}
	return p, nil
}

// NginxFiles are the files of the real landscape's nginx, all in one
// directory that nginx runs in (its -p prefix): what an administrator
// keeps in /etc/nginx/certroll and /var/log/nginx.
type NginxFiles struct {
	// Dir is the directory, Dir/nginx of the landscape.
	Dir string
	// Conf is nginx's configuration, written at each start with the port
	// of that start.
	Conf string
	// ClientCA is the PEM bundle of the roots trusted for client
	// certificates (ssl_client_certificate); PinMap the map of pinned
	// client certificates by SHA-1; AccessLog the log the receiver reads
	// for the last time it saw a certificate.
	ClientCA, PinMap, AccessLog string
	// PidFile holds the master's process ID.
	PidFile string
	// ServerCert and ServerKey are nginx's server certificate and key;
	// ServerRoot the root the nodes trust for it.
	ServerCert, ServerKey, ServerRoot string
	// ErrorLog is nginx's error log, Output what it writes on its
	// standard output and error.
	ErrorLog, Output string
	// OldClient is the chain of the client certificate pinned by hand
	// before the renewal, for a person following the runbook.
	OldClient string
}

// nginxFiles returns the names of the nginx files in the landscape dir.
func nginxFiles(dir string) *NginxFiles {
	d := filepath.Join(dir, "nginx")
	return &NginxFiles{
		Dir:        d,
		Conf:       filepath.Join(d, "nginx.conf"),
		ClientCA:   filepath.Join(d, "client-ca.pem"),
		PinMap:     filepath.Join(d, "pinned-clients.map"),
		AccessLog:  filepath.Join(d, "certroll-clients.log"),
		PidFile:    filepath.Join(d, "nginx.pid"),
		ServerCert: filepath.Join(d, "server.pem"),
		ServerKey:  filepath.Join(d, "server.key"),
		ServerRoot: filepath.Join(d, "server-root.pem"),
		ErrorLog:   filepath.Join(d, "error.log"),
		Output:     filepath.Join(d, "nginx.out"),
		OldClient:  filepath.Join(d, "old-client.pem"),
	}
}

// writeNginxFiles writes the files nginx starts from: the bundle with the
// root of chain (the old client certificate's), the map pinning its leaf
// by SHA-1 as the administrator did by hand, and a server certificate for
// 127.0.0.1 with its own root.
func writeNginxFiles(f *NginxFiles, chain []*x509.Certificate) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	root, cert, key, err := serverCertificate()
	if err != nil {
		return err
	}
	sum := sha1.Sum(chain[0].Raw)
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.ServerRoot, pemCert(root), 0o644},
		{f.ServerCert, pemCert(cert), 0o644},
		{f.ServerKey, key, 0o600},
		{f.ClientCA, pemCert(chain[len(chain)-1]), 0o644},
		{f.PinMap, []byte("# the tenant's client certificate, pinned by hand before the renewal\n" + hex.EncodeToString(sum[:]) + " 1;\n"), 0o644},
		{f.OldClient, append(pemCert(chain[0]), pemCert(chain[len(chain)-1])...), 0o644},
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	for _, file := range files {
		if err := atomicfile.Write(ctx, file.path, file.data, atomicfile.Options{Mode: file.mode}); err != nil {
			return err
		}
	}
	return nil
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// serverCertificate makes nginx's server certificate for 127.0.0.1 and
// the root that signs it (the nodes verify the server and its address, as
// a Java client does), and returns the certificate's key as PEM. The
// validity is around the wall clock because the JVM checks it there.
func serverCertificate() (root, cert *x509.Certificate, keyPEM []byte, err error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "certroll example nginx server root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, nil, err
	}
	if root, err = x509.ParseCertificate(rootDER); err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), rootKey)
	if err != nil {
		return nil, nil, nil, err
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return root, cert, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}

// nginxConf is the configuration of the real landscape's nginx: the lines
// the renewal/nginx package documentation tells an administrator to add,
// in a server block on 127.0.0.1, with every file in the prefix directory
// (%[1]s) and the port (%[2]d) of this start.
const nginxConf = `# written by examples/internal/landscape at each start; the port changes
daemon off;
master_process on;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log notice;
events { worker_connections 512; }
http {
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    access_log off;

    map $ssl_client_fingerprint $certroll_pinned {
        default 0;
        include %[1]s/pinned-clients.map;
    }
    log_format certroll '$time_iso8601 $ssl_client_fingerprint $status';

    server {
        listen 127.0.0.1:%[2]d ssl;
        ssl_certificate %[1]s/server.pem;
        ssl_certificate_key %[1]s/server.key;

        ssl_client_certificate %[1]s/client-ca.pem;
        ssl_verify_client on;
        access_log %[1]s/certroll-clients.log certroll;
        if ($certroll_pinned = 0) {
            return 403;
        }
        location / {
            return 200 "ok\n";
        }
    }
}
`

// Nginx is an nginx process the real landscape started.
type Nginx struct {
	// Files are its files.
	Files *NginxFiles
	// Addr is the host:port it listens on, URL the URL the nodes request.
	Addr, URL string
	// ServerRoot is the root of its server certificate.
	ServerRoot *x509.Certificate

	pid    int
	exited chan error
}

// NginxStartError reports that nginx did not come up.
type NginxStartError struct {
	// Command is the command line that was run.
	Command string
	// Reason says what happened.
	Reason string
	// Output is the end of what nginx wrote (its output and error log), at
	// most 64 KiB.
	Output string
}

func (e *NginxStartError) Error() string {
	return fmt.Sprintf("landscape: nginx did not start (%s): %s; nginx said:\n%s", e.Command, e.Reason, e.Output)
}

// StartNginx starts nginx (the program bin) with the files f on a free
// port of 127.0.0.1, as its own process group, and waits until it
// listens. A master left running by an earlier run with the same files
// (one killed before it could stop nginx) is stopped first. Stop it with
// [Nginx.Stop].
func StartNginx(bin string, f *NginxFiles) (*Nginx, error) {
	stopStale(f)
	for _, d := range []string{"body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if err := os.MkdirAll(filepath.Join(f.Dir, "tmp", d), 0o700); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(f.ServerRoot)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("landscape: %s holds no PEM certificate", f.ServerRoot)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("landscape: %s: %w", f.ServerRoot, err)
	}
	// The port is found free and handed to nginx, which another program
	// may take in between: a start that cannot bind tries another port.
	var last *NginxStartError
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		ctx, cancel := atomicfile.Within()
		err = atomicfile.Write(ctx, f.Conf, fmt.Appendf(nil, nginxConf, f.Dir, port), atomicfile.Options{Mode: 0o644})
		cancel()
		if err != nil {
			return nil, err
		}
		n := &Nginx{Files: f, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), ServerRoot: root, exited: make(chan error, 1)}
		n.URL = "https://" + n.Addr + "/flow"
		if last = n.start(bin); last == nil {
			return n, nil
		}
		if !strings.Contains(last.Output, "Address already in use") {
			break
		}
	}
	return nil, last
}

// start runs nginx and waits until it listens and has written its pid.
func (n *Nginx) start(bin string) *NginxStartError {
	f := n.Files
	args := []string{"-p", f.Dir, "-e", f.ErrorLog, "-c", f.Conf}
	e := &NginxStartError{Command: bin + " " + strings.Join(args, " ")}
	out, err := os.OpenFile(f.Output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		e.Reason = err.Error()
		return e
	}
	cmd := exec.Command(bin, args...)
	// A file, not a pipe: workers that outlive the master must not hold
	// Wait up. Its own process group, so that Stop reaches the workers.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	out.Close()
	if err != nil {
		e.Reason = err.Error()
		return e
	}
	n.pid = cmd.Process.Pid
	go func() { n.exited <- cmd.Wait() }()
	// A deadline generous for a loaded machine; nginx starts in
	// milliseconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-n.exited:
			n.exited <- err
			e.Reason = fmt.Sprintf("it exited: %v", err)
			e.Output = n.output()
			return e
		default:
		}
		if c, err := net.DialTimeout("tcp", n.Addr, time.Second); err == nil {
			c.Close()
			if pid, err := readPid(f.PidFile); err == nil && pid == n.pid {
				return nil
			}
		}
		if time.Now().After(deadline) {
			_ = n.Stop()
			e.Reason = "it did not listen on " + n.Addr + " within 30s"
			e.Output = n.output()
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// output returns the end of nginx's output and error log.
func (n *Nginx) output() string {
	var b bytes.Buffer
	for _, p := range []string{n.Files.Output, n.Files.ErrorLog} {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	const max = 64 << 10
	if b.Len() > max {
		return string(b.Bytes()[b.Len()-max:])
	}
	return b.String()
}

// Stop stops nginx: a fast shutdown of the master (TERM), and after 10 s
// a KILL to its process group; any worker left behind is killed too.
func (n *Nginx) Stop() error {
	_ = syscall.Kill(n.pid, syscall.SIGTERM)
	var err error
	select {
	case err = <-n.exited:
		n.exited <- err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-n.pid, syscall.SIGKILL)
		err = <-n.exited
		n.exited <- err
	}
	_ = syscall.Kill(-n.pid, syscall.SIGKILL) // a worker left behind
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() && ee.ExitCode() == 0 {
		return nil
	}
	if errors.As(err, &ee) && !ee.Exited() {
		return nil // ended by the signal, as asked
	}
	return err
}

// stopStale stops an nginx master that an earlier run with the same files
// started and could not stop (it was killed): its pid file names a
// process whose command line is nginx's with this configuration.
func stopStale(f *NginxFiles) {
	pid, err := readPid(f.PidFile)
	if err != nil {
		return
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || !bytes.Contains(cmdline, []byte("nginx")) || !bytes.Contains(cmdline, []byte(f.Conf)) {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ { // up to 10 s, then the whole group
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
