package keystore

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	kgo "github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/certroll/certroll/internal/testpki"
)

var jksBench struct {
	sync.Mutex
	files map[int][]byte
	roots []*x509.Certificate // the trusted certificates, made once
	leaf  *testpki.Leaf       // what Replace puts in
}

const jksBenchPassword = "changeit"

// jksBenchDistinct is how many different CA certificates the benchmark
// stores hold: a larger store repeats them under other aliases (the codec
// does not look at the certificates, and making 100,000 would take
// minutes).
const jksBenchDistinct = 10000

// jksBenchFile returns a JKS file with n entries, as a tenant's keystore
// grows when it doubles as a truststore: the key entry "tenant-client"
// (EC P-256, chain of leaf and intermediate) and n-1 trusted CA
// certificates "ca-00001", ... (about 460 bytes per entry). It is written
// with keystore-go directly, since building it is not what is measured.
func jksBenchFile(b testing.TB, n int) []byte {
	b.Helper()
	jksBench.Lock()
	defer jksBench.Unlock()
	if data, ok := jksBench.files[n]; ok {
		return data
	}
	ks := kgo.New()
	leaf := testpki.NewRoot(b, "Bench Old Root").Intermediate(b, "Bench Old CA").Leaf(b, "tenant-client")
	der, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
	if err != nil {
		b.Fatal(err)
	}
	chain := []kgo.Certificate{{Type: "X.509", Content: leaf.Cert.Raw}, {Type: "X.509", Content: leaf.Chain[1].Raw}}
	if err := ks.SetPrivateKeyEntry("tenant-client", kgo.PrivateKeyEntry{CreationTime: testpki.Now, PrivateKey: der, CertificateChain: chain}, []byte(jksBenchPassword)); err != nil {
		b.Fatal(err)
	}
	for i := len(jksBench.roots) + 1; i < min(n, jksBenchDistinct+1); i++ {
		jksBench.roots = append(jksBench.roots, testpki.NewRoot(b, fmt.Sprintf("Bench CA %05d", i)).Cert)
	}
	for i := 1; i < n; i++ {
		ca := jksBench.roots[(i-1)%jksBenchDistinct]
		if err := ks.SetTrustedCertificateEntry(fmt.Sprintf("ca-%05d", i), kgo.TrustedCertificateEntry{
			CreationTime: testpki.Now, Certificate: kgo.Certificate{Type: "X.509", Content: ca.Raw}}); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(jksBenchPassword)); err != nil {
		b.Fatal(err)
	}
	if jksBench.files == nil {
		jksBench.files = map[int][]byte{}
		jksBench.leaf = testpki.NewRoot(b, "Bench New Root").Intermediate(b, "Bench New CA").Leaf(b, "tenant-client")
	}
	jksBench.files[n] = buf.Bytes()
	return buf.Bytes()
}

// BenchmarkJKS measures what a certificate swap costs: parse the store,
// replace the key entry with a key and chain from another CA, marshal it;
// the same without the swap; and, for comparison, keystore-go's bare Load
// and Store of the same file.
func BenchmarkJKS(b *testing.B) {
	pw := []byte(jksBenchPassword)
	for _, n := range []int{1, 100, 10000} {
		data := jksBenchFile(b, n)
		leaf := jksBench.leaf
		b.Run(fmt.Sprintf("entries=%d/certroll", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s, err := Parse(data, pw, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Replace("tenant-client", leaf.Key, leaf.Chain, nil); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Marshal(pw); err != nil {
					b.Fatal(err)
				}
			}
		})
		// The same without the swap, which costs a key decryption, a
		// signature check and a key encryption: the codec alone.
		b.Run(fmt.Sprintf("entries=%d/certroll-unchanged", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s, err := Parse(data, pw, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Marshal(pw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("entries=%d/keystore-go", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ks := kgo.New()
				if err := ks.Load(bytes.NewReader(data), pw); err != nil {
					b.Fatal(err)
				}
				var buf bytes.Buffer
				if err := ks.Store(&buf, pw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJKSDelete10000 deletes one alias from the 10,000-entry store on
// disk: with the library (Open, Delete, Save, which syncs the file) and
// with keytool -delete, to measure the speed-up over keytool. keytool's
// time is mostly the JVM starting; run with -benchtime 1x or let the
// framework settle on b.N=1 for it.
func BenchmarkJKSDelete10000(b *testing.B) {
	data := jksBenchFile(b, 10000)
	pw := []byte(jksBenchPassword)
	dir := b.TempDir()
	path := filepath.Join(dir, "bench.jks")
	pwFile := writeSecretFile(b, dir, pw)
	fresh := func(b *testing.B) {
		b.StopTimer()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.Run("certroll", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fresh(b)
			s, err := Open(path, pw, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Delete("ca-04242"); err != nil {
				b.Fatal(err)
			}
			if err := s.Save(path, pw, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keytool", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			fresh(b)
			// Plain keytool, without the tests' start-up flags, as an
			// administrator runs it.
			out, err := exec.Command("keytool", "-delete", "-alias", "ca-04242", "-keystore", path, "-storetype", "JKS", "-storepass:file", pwFile).CombinedOutput()
			if err != nil {
				b.Fatalf("keytool -delete: %v\n%s", err, out)
			}
		}
	})
}
