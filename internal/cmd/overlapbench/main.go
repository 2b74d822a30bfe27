// Command overlapbench measures the key and store work of the overlap
// renewal done through certroll against the same work done with keytool
// and openssl, in one run, and prints the ratio.
//
//	go run ./internal/cmd/overlapbench [-runs 5] [-key rsa2048|ec-p256|...]
//
// Both sides start from the same files: a tenant JKS keystore whose alias
// "client" holds a key of the -key type (RSA-2048 by default) signed by
// the old CA, the receiver's JKS truststore holding the old root, and the
// new CA's key and certificate. Both do the same seven steps on files: a
// new key pair of the -key type (keytool -keyalg RSA -keysize 2048, or
// -keyalg EC -groupname secp256r1 for ec-p256), a renewal CSR, signing by
// the new CA, importing the new root into the truststore, checking the new
// chain, installing the reply under the old alias, and removing the old
// root from the truststore.
//
// Key generation is the floor of the certroll side with RSA keys (a
// random prime search), so the totals are printed with and without it.
package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/localca"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

var steps = []string{"key pair", "CSR", "CA signs", "truststore import", "chain check", "reply under old alias", "old root removal"}

var password = []byte("changeit")

// keytoolKeyAlg gives, per key type, the keytool options that make a key
// pair of that type.
var keytoolKeyAlg = map[keystore.KeyType][]string{
	keystore.RSA2048:   {"-keyalg", "RSA", "-keysize", "2048"},
	keystore.RSA3072:   {"-keyalg", "RSA", "-keysize", "3072"},
	keystore.RSA4096:   {"-keyalg", "RSA", "-keysize", "4096"},
	keystore.ECDSAP256: {"-keyalg", "EC", "-groupname", "secp256r1"},
	keystore.ECDSAP384: {"-keyalg", "EC", "-groupname", "secp384r1"},
	keystore.ECDSAP521: {"-keyalg", "EC", "-groupname", "secp521r1"},
}

func main() {
	runs := flag.Int("runs", 5, "how many times to run each side; medians are reported")
	key := flag.String("key", "rsa2048", "type of the tenant's keys, old and new, on both sides: rsa2048, rsa3072, rsa4096, ec-p256, ec-p384 or ec-p521")
	flag.Parse()
	kt, err := parseKeyType(*key)
	if err == nil {
		err = run(*runs, kt, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "overlapbench:", err)
		os.Exit(1)
	}
}

// parseKeyType returns the key type named s, one that keytool makes too.
func parseKeyType(s string) (keystore.KeyType, error) {
	kt, err := keystore.ParseKeyType(s)
	if err != nil {
		return 0, fmt.Errorf("-key: %w", err)
	}
	if keytoolKeyAlg[kt] == nil {
		return 0, fmt.Errorf("-key: %s keys are not compared: want rsa2048, rsa3072, rsa4096, ec-p256, ec-p384 or ec-p521", kt)
	}
	return kt, nil
}

func run(runs int, keyType keystore.KeyType, out io.Writer) error {
	if runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if keytoolKeyAlg[keyType] == nil {
		return fmt.Errorf("no keytool options for %s keys", keyType)
	}
	for _, tool := range []string{"keytool", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed for the comparison: %w", tool, err)
		}
	}
	var lib, tools [][]time.Duration
	for i := 0; i < runs; i++ {
		l, err := once(keyType, libraryWay)
		if err != nil {
			return fmt.Errorf("library: %w", err)
		}
		lib = append(lib, l)
		k, err := once(keyType, toolWay)
		if err != nil {
			return fmt.Errorf("keytool/openssl: %w", err)
		}
		tools = append(tools, k)
	}
	fmt.Fprintf(out, "overlap renewal key and store work with %s keys, median of %d runs (%s, %d CPUs, %s)\n\n", keyType, runs, cpuModel(), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(out, "%-24s %14s %14s\n", "step", "keytool/openssl", "certroll")
	var lt, kt time.Duration
	for i, name := range steps {
		l, k := median(lib, i), median(tools, i)
		lt += l
		kt += k
		fmt.Fprintf(out, "%-24s %14s %14s\n", name, round(k), round(l))
	}
	fmt.Fprintf(out, "%-24s %14s %14s\n", "total", round(kt), round(lt))
	// The sums of the other steps' medians, as total sums every step's.
	lo, ko := lt-median(lib, 0), kt-median(tools, 0)
	fmt.Fprintf(out, "%-24s %14s %14s\n", "total without key pair", round(ko), round(lo))
	fmt.Fprintf(out, "\ncertroll is %.0fx faster (%.0fx without the key pair); key generation is %.1f%% of its time\n",
		float64(kt)/float64(lt), float64(ko)/float64(lo), 100*float64(median(lib, 0))/float64(lt))
	return nil
}

// once prepares a fresh landscape and times way on it.
func once(kt keystore.KeyType, way func(l *landscape) ([]time.Duration, error)) ([]time.Duration, error) {
	l, err := newLandscape(kt)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(l.dir)
	return way(l)
}

type landscape struct {
	keyType              keystore.KeyType
	dir                  string
	keystore, truststore string
	newCA                *localca.CA
	caCert, caKey        string // PEM files of the new CA, for openssl
	oldRoot              *x509.Certificate
}

func newLandscape(kt keystore.KeyType) (*landscape, error) {
	dir, err := os.MkdirTemp("", "overlapbench-")
	if err != nil {
		return nil, err
	}
	l := &landscape{keyType: kt, dir: dir, keystore: filepath.Join(dir, "client.jks"), truststore: filepath.Join(dir, "truststore.jks"),
		caCert: filepath.Join(dir, "newca.pem"), caKey: filepath.Join(dir, "newca.key")}
	oldCA, err := localca.New("Old Root CA", nil, nil)
	if err != nil {
		return nil, err
	}
	if l.newCA, err = localca.New("New Root CA", nil, nil); err != nil {
		return nil, err
	}
	l.oldRoot = oldCA.Cert
	key, err := keystore.GenerateKey(kt, nil)
	if err != nil {
		return nil, err
	}
	oldChain, err := oldCA.Issue("tenant-client", key.Public())
	if err != nil {
		return nil, err
	}
	ks := keystore.New(keystore.JKS, nil)
	if err := ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: oldChain}, nil); err != nil {
		return nil, err
	}
	if err := ks.Set(&keystore.Entry{Alias: "old-root", Chain: oldChain[1:]}, nil); err != nil {
		return nil, err
	}
	if err := ks.Save(l.keystore, password, nil); err != nil {
		return nil, err
	}
	ts := keystore.New(keystore.JKS, nil)
	if err := ts.Set(&keystore.Entry{Alias: "old-root", Chain: oldChain[1:]}, nil); err != nil {
		return nil, err
	}
	if err := ts.Save(l.truststore, password, nil); err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(l.newCA.Key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(l.caKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(l.caCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.newCA.Cert.Raw}), 0o644); err != nil {
		return nil, err
	}
	return l, nil
}

// timer records the time of each step.
type timer struct {
	last time.Time
	d    []time.Duration
}

func newTimer() *timer { return &timer{last: time.Now()} }

func (t *timer) lap() {
	now := time.Now()
	t.d = append(t.d, now.Sub(t.last))
	t.last = now
}

// libraryWay does the seven steps through certroll, reading and writing
// the same files.
func libraryWay(l *landscape) ([]time.Duration, error) {
	t := newTimer()
	key, err := keystore.GenerateKey(l.keyType, nil)
	if err != nil {
		return nil, err
	}
	t.lap()
	d, err := l.ownWork(key)
	return append(t.d, d...), err
}

// ownWork does the six steps after the key pair through certroll: the
// library's own work, whose floor is not a prime search.
func (l *landscape) ownWork(key crypto.Signer) ([]time.Duration, error) {
	t := newTimer()
	ks, err := keystore.Open(l.keystore, password, nil)
	if err != nil {
		return nil, err
	}
	current, err := ks.Certificates("client")
	if err != nil {
		return nil, err
	}
	csr, err := keystore.RenewalCSR(key, current[0])
	if err != nil {
		return nil, err
	}
	csrFile := filepath.Join(l.dir, "new.csr")
	if err := os.WriteFile(csrFile, csr, 0o644); err != nil {
		return nil, err
	}
	t.lap()
	reply, err := l.newCA.SignCSR(csr)
	if err != nil {
		return nil, err
	}
	t.lap()
	ts, err := truststore.Open(l.truststore, password)
	if err != nil {
		return nil, err
	}
	if _, err := ts.Merge([]truststore.Entry{{Alias: "new-root", Cert: l.newCA.Cert}}, nil); err != nil {
		return nil, err
	}
	if err := ts.Save(l.truststore, password); err != nil {
		return nil, err
	}
	t.lap()
	r := chain.Receiver{Roots: ts.Certificates()}
	if _, err := r.Verify(reply[:1]); err != nil {
		return nil, err
	}
	t.lap()
	err = keystore.Update(context.Background(), l.keystore, password, func(s *keystore.Store) error {
		_, err := s.InstallReply("client", reply, &keystore.ReplyOptions{NewKey: key, Anchors: []*x509.Certificate{l.newCA.Cert}})
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	t.lap()
	ts, err = truststore.Open(l.truststore, password)
	if err != nil {
		return nil, err
	}
	if _, err := ts.Prune(truststore.ByAlias("old-root"), &truststore.PruneOptions{NothingInUse: true}); err != nil {
		return nil, err
	}
	if err := ts.Save(l.truststore, password); err != nil {
		return nil, err
	}
	t.lap()
	return t.d, nil
}

// toolWay does the seven steps with keytool and openssl, as the wiki page
// says.
func toolWay(l *landscape) ([]time.Duration, error) {
	kt := func(args ...string) error {
		return command("keytool", append([]string{"-J-Duser.language=en", "-noprompt"}, args...)...)
	}
	csr, reply, ext := filepath.Join(l.dir, "new.csr"), filepath.Join(l.dir, "new.pem"), filepath.Join(l.dir, "ext.cnf")
	if err := os.WriteFile(ext, []byte("extendedKeyUsage=clientAuth\n"), 0o644); err != nil {
		return nil, err
	}
	ks := []string{"-keystore", l.keystore, "-storepass", string(password)}
	ts := []string{"-keystore", l.truststore, "-storepass", string(password)}
	t := newTimer()
	gen := append([]string{"-genkeypair", "-alias", "client-new"}, keytoolKeyAlg[l.keyType]...)
	if err := kt(append(append(gen, "-dname", "CN=tenant-client", "-keypass", string(password)), ks...)...); err != nil {
		return nil, err
	}
	t.lap()
	if err := kt(append([]string{"-certreq", "-alias", "client-new", "-file", csr}, ks...)...); err != nil {
		return nil, err
	}
	t.lap()
	if err := command("openssl", "x509", "-req", "-in", csr, "-CA", l.caCert, "-CAkey", l.caKey, "-CAcreateserial",
		"-out", reply, "-days", "365", "-extfile", ext); err != nil {
		return nil, err
	}
	t.lap()
	if err := kt(append([]string{"-importcert", "-alias", "new-root", "-file", l.caCert}, ts...)...); err != nil {
		return nil, err
	}
	t.lap()
	if err := command("openssl", "verify", "-CAfile", l.caCert, "-purpose", "sslclient", reply); err != nil {
		return nil, err
	}
	t.lap()
	// keytool cannot put a new key under an existing alias: the reply goes
	// onto the new alias (with the new root, which it must trust), the old
	// entry is deleted and the new one renamed to the old alias.
	if err := kt(append([]string{"-importcert", "-alias", "new-root", "-file", l.caCert}, ks...)...); err != nil {
		return nil, err
	}
	if err := kt(append([]string{"-importcert", "-alias", "client-new", "-file", reply}, ks...)...); err != nil {
		return nil, err
	}
	if err := kt(append([]string{"-delete", "-alias", "client"}, ks...)...); err != nil {
		return nil, err
	}
	if err := kt(append([]string{"-changealias", "-alias", "client-new", "-destalias", "client", "-keypass", string(password)}, ks...)...); err != nil {
		return nil, err
	}
	t.lap()
	if err := kt(append([]string{"-delete", "-alias", "old-root"}, ts...)...); err != nil {
		return nil, err
	}
	t.lap()
	return t.d, nil
}

func command(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, args[0], err, out)
	}
	return nil
}

func median(runs [][]time.Duration, step int) time.Duration {
	v := make([]time.Duration, len(runs))
	for i, r := range runs {
		v[i] = r[step]
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
