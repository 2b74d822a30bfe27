package local

import (
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzParseCertList feeds arbitrary bytes to the reader of the PEM files
// the receiver keeps; it must not panic, and what it reads must encode and
// read back to the same certificates.
func FuzzParseCertList(f *testing.F) {
	root := testpki.NewRoot(f, "Fuzz Root")
	f.Add([]byte(""))
	f.Add([]byte("# only a comment\n\n"))
	f.Add(testpki.PEM(root.Cert))
	f.Add(formatCertList("header", nil))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := parseCertList(data)
		if err != nil {
			return
		}
		back, err := parseCertList(formatCertList("x", certs))
		if err != nil {
			t.Fatalf("re-reading %d certificates: %v", len(certs), err)
		}
		if len(back) != len(certs) {
			t.Fatalf("read back %d certificates, want %d", len(back), len(certs))
		}
		for i := range certs {
			if string(back[i].Raw) != string(certs[i].Raw) {
				t.Fatalf("certificate %d changed on the round trip", i)
			}
		}
	})
}

func TestParseCertList(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	other := testpki.NewRoot(t, "Other")
	tests := []struct {
		name    string
		data    string
		want    int
		wantErr bool
	}{
		{"empty", "", 0, false},
		{"comments and blank lines", "# a\n\n   # b\r\n", 0, false},
		{"two certificates with text between", "# a\n" + string(testpki.PEM(root.Cert)) + "text\n" + string(testpki.PEM(other.Cert)), 2, false},
		{"garbage is not an empty list", "garbage\n", 0, true},
		{"truncated block", "-----BEGIN CERTIFICATE-----\nMIIB\n", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCertList([]byte(tc.data))
			if tc.wantErr {
				assert.ErrorIs(t, err, keystore.ErrMalformed)
				return
			}
			require.NoError(t, err)
			assert.Len(t, got, tc.want)
		})
	}
}
