package truststore_test

import (
	"encoding/pem"
	"testing"

	"github.com/certroll/certroll/internal/hostile"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/truststore"
)

// FuzzParse feeds arbitrary bytes to Parse, which reads PEM bundles itself
// and hands binary input to package keystore. It must never panic, and a
// bundle it accepts must survive a write and a second read unchanged.
//
// Its seeds are light, built on a 230-byte Ed25519 certificate: the fuzzer
// minimizes every new interesting input in time quadratic in its length,
// and with kilobyte seeds a 10-second run managed a few dozen executions.
// FuzzParseCorpus fuzzes from an RSA certificate and the hostile corpus.
func FuzzParse(f *testing.F) {
	_, cert := hostile.SmallKeyPair()
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	f.Add([]byte(""))
	f.Add([]byte("# alias: x\n" + string(block)))
	f.Add(append(append([]byte("text\n"), block...), block...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n"))
	f.Add([]byte("# alias: \n# alias: x\n"))
	f.Add(cert.Raw)
	f.Add([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0})
	f.Add(hostile.MinimalJKS(1))
	f.Add([]byte{0x30, 0x80})
	f.Add(hostile.ManyTinyPieces(1))
	f.Fuzz(fuzzParse)
}

// FuzzParseCorpus is FuzzParse seeded with an RSA root and the small
// members of the hostile corpus.
func FuzzParseCorpus(f *testing.F) {
	root := testpki.NewRoot(f, "Fuzz Root")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Cert.Raw})
	f.Add([]byte("# alias: x\n" + string(block)))
	f.Add(append(append([]byte("text\n"), block...), block...))
	f.Add(root.Cert.Raw)
	f.Add(hostile.Copies(3))
	f.Add(hostile.OneAlias(3))
	f.Add(hostile.BrokenBegins(300))
	f.Add(hostile.MinimalJKS(2))
	f.Add(hostile.PBMAC1LongKey())
	f.Add(hostile.ManyTinyPieces(3))
	f.Add(hostile.ManyDerivations(2))
	f.Add(hostile.UnpairedKeys(2, 1))
	f.Fuzz(fuzzParse)
}

// fuzzParse is the body of the truststore fuzzers.
func fuzzParse(t *testing.T, data []byte) {
	s, err := truststore.Parse(data, []byte("changeit"))
	if err != nil || s.Kind() != truststore.PEMBundle {
		return
	}
	out, err := s.Marshal(nil)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := truststore.Parse(out, nil)
	if err != nil {
		t.Fatalf("a written bundle does not read back: %v\n%s", err, out)
	}
	if d := truststore.Diff(s, back); !equalSets(d) {
		t.Fatalf("a written bundle reads back differently: %s", d)
	}
}
