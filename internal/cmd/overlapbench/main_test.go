package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunOnce runs both sides once per key type, so that the comparison
// keeps working: every step is timed on both sides, the totals are printed
// with and without the key pair, and the ratio is printed. The keystore
// both sides leave behind holds, under the old alias, a key of the type
// asked for.
func TestRunOnce(t *testing.T) {
	for _, kt := range []keystore.KeyType{keystore.RSA2048, keystore.ECDSAP256} {
		t.Run(kt.String(), func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run(1, kt, &out))
			text := out.String()
			for _, step := range append(steps, "total", "total without key pair") {
				line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(step) + `\s+(\S+)\s+(\S+)$`).FindStringSubmatch(text)
				require.NotNil(t, line, "no line for %q in:\n%s", step, text)
				assert.NotEqual(t, "0s", line[1], step)
				assert.NotEqual(t, "0s", line[2], step)
			}
			assert.Regexp(t, `certroll is \d+x faster \(\d+x without the key pair\); key generation is \d+\.\d% of its time`, text)
			assert.True(t, strings.HasPrefix(text, "overlap renewal key and store work with "+kt.String()+" keys, median of 1 runs"), text)
		})
	}
}

// TestBothSidesMakeTheKeyType checks, for each key type, that the keystore
// each side leaves behind holds the new key of that type under the old
// alias, signed by the new CA, and that the truststore holds the new root
// only: the two sides did the same work.
func TestBothSidesMakeTheKeyType(t *testing.T) {
	for _, kt := range []keystore.KeyType{keystore.RSA2048, keystore.ECDSAP256} {
		for _, side := range []struct {
			name string
			way  func(*landscape) ([]time.Duration, error)
		}{{"certroll", libraryWay}, {"keytool", toolWay}} {
			t.Run(kt.String()+"/"+side.name, func(t *testing.T) {
				l, err := newLandscape(kt)
				require.NoError(t, err)
				defer os.RemoveAll(l.dir)
				d, err := side.way(l)
				require.NoError(t, err)
				assert.Len(t, d, len(steps))
				ks, err := keystore.Open(l.keystore, password, nil)
				require.NoError(t, err)
				e, err := ks.Entry("client")
				require.NoError(t, err)
				require.Equal(t, keystore.KeyEntry, e.Kind())
				assert.Equal(t, kt, keystore.KeyTypeOf(e.Leaf().PublicKey))
				assert.Equal(t, l.newCA.Cert.Subject.String(), e.Leaf().Issuer.String())
				ts, err := keystore.Open(l.truststore, password, nil)
				require.NoError(t, err)
				assert.Equal(t, []string{"new-root"}, ts.Aliases())
			})
		}
	}
}

func TestRunRejectsNoRuns(t *testing.T) {
	assert.ErrorContains(t, run(0, keystore.RSA2048, &bytes.Buffer{}), "at least 1")
}

func TestParseKeyType(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want keystore.KeyType
		err  string
	}{
		{name: "rsa2048", in: "rsa2048", want: keystore.RSA2048},
		{name: "ec-p256", in: "ec-p256", want: keystore.ECDSAP256},
		{name: "ed25519 has no comparison", in: "ed25519", err: "not compared"},
		{name: "unknown", in: "dsa", err: "-key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kt, err := parseKeyType(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, kt)
		})
	}
}

// BenchmarkOwnWork measures the certroll side's own work, with the new
// key made beforehand: the six steps after the key pair (CSR, signing,
// truststore import, chain check, reply under the old alias, old root
// removal), on files. ownwork-ms is that time per run. Three of the steps
// end in an atomic, fsynced save (truststore, keystore, truststore), each
// needed; saves-ms is the floor they set, measured in the same iteration:
// three atomic writes (lock, temporary file, fsync, rename, directory
// fsync) of the same bytes in the same directory, through
// internal/atomicfile as the library writes. sign-ms is the other floor:
// the new key's one signature (the CSR's), timed on the same key. other-ms
// is ownwork-ms less both floors: parsing, checking, the CA's signature,
// encrypting and encoding. The garbage of making the key is collected
// before the timer starts, so that the collector does not run during the
// steps on the key pair's account.
func BenchmarkOwnWork(b *testing.B) {
	for _, kt := range []keystore.KeyType{keystore.RSA2048, keystore.ECDSAP256} {
		b.Run(kt.String(), func(b *testing.B) {
			var total, saves, sign time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				l, err := newLandscape(kt)
				if err != nil {
					b.Fatal(err)
				}
				key, err := keystore.GenerateKey(kt, nil)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				start := time.Now()
				b.StartTimer()
				if _, err := l.ownWork(key); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				total += time.Since(start)
				saves += saveFloor(b, l)
				sign += signFloor(b, key)
				os.RemoveAll(l.dir)
			}
			n := float64(b.N)
			b.ReportMetric(float64(total.Microseconds())/1000/n, "ownwork-ms")
			b.ReportMetric(float64(saves.Microseconds())/1000/n, "saves-ms")
			b.ReportMetric(float64(sign.Microseconds())/1000/n, "sign-ms")
			b.ReportMetric(float64((total-saves-sign).Microseconds())/1000/n, "other-ms")
		})
	}
}

// signFloor times one signature by key over a SHA-256 digest, as the
// CSR's.
func signFloor(b *testing.B, key crypto.Signer) time.Duration {
	b.Helper()
	digest := sha256.Sum256([]byte("certificate request"))
	start := time.Now()
	if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// saveFloor times three atomic, fsynced writes of the files the own work
// saves (truststore, keystore, truststore), beside them.
func saveFloor(b *testing.B, l *landscape) time.Duration {
	b.Helper()
	ts, err := os.ReadFile(l.truststore)
	if err != nil {
		b.Fatal(err)
	}
	ks, err := os.ReadFile(l.keystore)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i, data := range [][]byte{ts, ks, ts} {
		path := filepath.Join(l.dir, "floor-"+strconv.Itoa(i%2))
		if err := atomicfile.Write(context.Background(), path, data, atomicfile.Options{Mode: 0o600}); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}
