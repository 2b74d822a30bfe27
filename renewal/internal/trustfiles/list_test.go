package trustfiles

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListKeys(t *testing.T) {
	leaf := testpki.NewRoot(t, "CA").Leaf(t, "client").Cert
	d := sha1.Sum(leaf.Raw)
	h := hex.EncodeToString(d[:])
	assert.Equal(t, h+" 1;", NginxMap.Key(leaf))
	assert.Equal(t, strings.ToUpper(h), HAProxyACL.Key(leaf))
	assert.Equal(t, keystore.CertFingerprint(leaf).String(), SHA256List.Key(leaf))
}

func TestListAddRemoveKeepsOtherLines(t *testing.T) {
	ca := testpki.NewRoot(t, "CA")
	a, b := ca.Leaf(t, "a").Cert, ca.Leaf(t, "b").Cert
	for _, f := range []ListFormat{NginxMap, HAProxyACL, SHA256List} {
		t.Run(f.String(), func(t *testing.T) {
			// a person's file: a comment, an empty line and a hand-written entry for a
			orig := "# pinned by the admin\n\n" + f.Key(a) + "\n"
			l, err := ParseList([]byte(orig), f)
			require.NoError(t, err)
			assert.Equal(t, orig, string(l.Marshal()), "parsing and writing back changes nothing")
			assert.True(t, l.Contains(a))
			assert.False(t, l.Contains(b))
			assert.Empty(t, l.Certificates(), "a hand-written entry carries no certificate")

			assert.True(t, l.Add(b))
			assert.False(t, l.Add(b), "adding again changes nothing")
			l2, err := ParseList(l.Marshal(), f)
			require.NoError(t, err)
			assert.True(t, l2.Contains(b))
			require.Len(t, l2.Certificates(), 1)
			assert.Equal(t, b.Raw, l2.Certificates()[0].Raw, "the added entry carries its certificate")
			assert.True(t, strings.HasPrefix(string(l2.Marshal()), orig), "the person's lines stay as they were")

			assert.True(t, l2.Remove(b))
			assert.False(t, l2.Remove(b))
			assert.Equal(t, orig, string(l2.Marshal()), "removing the entry removes its certificate block too")

			assert.True(t, l2.Add(a), "a hand-written entry gains its certificate block")
			assert.Equal(t, 1, l2.Len())
			require.Len(t, l2.Certificates(), 1)
		})
	}
}

func TestParseListErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    ListFormat
		data string
		line int
	}{
		{"nginx without semicolon", NginxMap, "# x\n0123456789abcdef0123456789abcdef01234567 1\n", 2},
		{"nginx other value", NginxMap, "0123456789abcdef0123456789abcdef01234567 user;\n", 1},
		{"nginx default line", NginxMap, "default 0;\n", 1},
		{"haproxy short", HAProxyACL, "ABCD\n", 1},
		{"sha256 garbage", SHA256List, "\nnot a fingerprint\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseList([]byte(tc.data), tc.f)
			var le *ListError
			require.True(t, errors.As(err, &le), "got %v", err)
			assert.Equal(t, tc.line, le.Line)
			assert.Contains(t, err.Error(), "want ")
		})
	}
	_, err := ParseList(nil, ListUnknown)
	assert.Error(t, err)
}

func FuzzParseList(f *testing.F) {
	ca := testpki.NewRoot(f, "CA")
	leaf := ca.Leaf(f, "x").Cert
	for _, lf := range []ListFormat{NginxMap, HAProxyACL, SHA256List} {
		l, _ := ParseList(nil, lf)
		l.Add(leaf)
		f.Add(l.Marshal(), uint8(lf))
		f.Add([]byte("# c\n\n"+lf.Key(leaf)+"\r\n"), uint8(lf))
	}
	f.Fuzz(func(t *testing.T, data []byte, fb uint8) {
		lf := ListFormat(fb%3 + 1)
		l, err := ParseList(data, lf)
		if err != nil {
			return
		}
		out := l.Marshal()
		if len(data) > 0 && data[len(data)-1] == '\n' && string(out) != string(data) {
			t.Fatalf("round trip changed the file:\n%q\n%q", data, out)
		}
		l2, err := ParseList(out, lf)
		if err != nil {
			t.Fatalf("re-parsing the written list: %v", err)
		}
		if l2.Len() != l.Len() || len(l2.Certificates()) != len(l.Certificates()) {
			t.Fatalf("re-parsed list differs: %d/%d entries, %d/%d certificates", l.Len(), l2.Len(), len(l.Certificates()), len(l2.Certificates()))
		}
		if l.Contains(leaf) {
			l.Remove(leaf)
			if l.Contains(leaf) {
				t.Fatal("still contains the removed certificate")
			}
		}
	})
}
