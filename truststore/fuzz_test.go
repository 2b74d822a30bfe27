package truststore_test

import (
	"encoding/pem"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/truststore"
)

// FuzzParse feeds arbitrary bytes to Parse, which reads PEM bundles itself
// and hands binary input to package keystore. It must never panic, and a
// bundle it accepts must survive a write and a second read unchanged.
func FuzzParse(f *testing.F) {
	root := testpki.NewRoot(f, "Fuzz Root")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Cert.Raw})
	f.Add([]byte(""))
	f.Add([]byte("# alias: x\n" + string(block)))
	f.Add(append(append([]byte("text\n"), block...), block...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add(root.Cert.Raw)
	f.Add([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
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
		if d := truststore.Diff(s, back); !d.Equal() {
			t.Fatalf("a written bundle reads back differently: %s", d)
		}
	})
}
