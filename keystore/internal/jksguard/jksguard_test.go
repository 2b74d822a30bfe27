package jksguard

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// build writes a version 2 JKS structure (with a zero digest) from parts:
// each part is appended as is, so tests can write any field.
func build(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return append(b, make([]byte, DigestSize)...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func header(version, count uint32) []byte {
	return append(append(u32(Magic), u32(version)...), u32(count)...)
}

func TestWalk(t *testing.T) {
	data := build(header(2, 2),
		// key entry "k" with a 3-byte key and two certificates
		u32(TagPrivateKey), u16(1), []byte("k"), u64(1234), u32(3), []byte{1, 2, 3}, u32(2),
		u16(5), []byte("X.509"), u32(2), []byte{0xA, 0xB},
		u16(5), []byte("X.509"), u32(1), []byte{0xC},
		// trusted entry "t"
		u32(TagTrustedCert), u16(1), []byte("t"), u64(5678), u16(5), []byte("X.509"), u32(1), []byte{0xD},
		[]byte("trailing"))
	// build put the digest after the trailing bytes; move it before them.
	body := data[:len(data)-DigestSize-len("trailing")]
	data = append(append(append([]byte(nil), body...), make([]byte, DigestSize)...), "trailing"...)

	f, err := Walk(data)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), f.Version)
	require.Len(t, f.Entries, 2)
	k, tr := f.Entries[0], f.Entries[1]
	assert.Equal(t, uint32(TagPrivateKey), k.Tag)
	assert.Equal(t, "k", string(k.Alias))
	assert.Equal(t, int64(1234), k.Created)
	assert.Equal(t, []byte{1, 2, 3}, k.Key)
	assert.Equal(t, []byte{1, 2, 3}, data[k.KeyOffset:k.KeyOffset+3])
	require.Len(t, k.Certs, 2)
	assert.Equal(t, []byte{0xA, 0xB}, k.Certs[0].DER)
	assert.Equal(t, "X.509", string(k.Certs[0].Type))
	assert.Equal(t, "X.509", string(data[k.Certs[0].TypeOffset:k.Certs[0].TypeOffset+5]))
	assert.Equal(t, []byte{0xC}, data[k.Certs[1].Offset:k.Certs[1].Offset+1])
	assert.Equal(t, 12, k.Start)
	assert.Equal(t, k.End, tr.Start)
	assert.Equal(t, uint32(TagTrustedCert), tr.Tag)
	assert.Equal(t, []byte{0xD}, tr.Certs[0].DER)
	assert.Equal(t, f.DigestOffset, tr.End)
	assert.Equal(t, len("trailing"), f.Trailing)
}

func TestWalkErrors(t *testing.T) {
	trusted := func(alias []byte) []byte {
		return append(append(append(u32(TagTrustedCert), u16(uint16(len(alias)))...), alias...), u64(0)...)
	}
	tests := []struct {
		name   string
		data   []byte
		field  string
		offset int64
		secret bool
	}{
		{"short", make([]byte, 31), "file", 0, false},
		{"magic", build(u32(0xCECECECE), u32(2), u32(0)), "magic", 0, false},
		{"version", build(header(3, 0)), "version", 4, false},
		{"entry count", build(header(2, 2), make([]byte, 39)), "entry count", 8, false},
		{"tag", build(header(2, 1), u32(9), make([]byte, 40)), "entry tag", 12, false},
		{"secret key", build(header(2, 1), u32(TagSecretKey), u16(3), []byte("aes"), make([]byte, 40)), "entry tag", 12, true},
		{"alias length", build(header(2, 1), u32(TagTrustedCert), u16(0xFFFF), make([]byte, 20)), "alias length", 16, false},
		{"alias encoding", build(header(2, 1), trusted([]byte{'a', 0x80}), u16(0), u32(0), make([]byte, 8)), "alias", 19, false},
		{"certificate length", build(header(2, 1), trusted([]byte("a")), u16(0), u32(0xFFFFFFFF), make([]byte, 8)), "certificate length", 29, false},
		{"certificate type length", build(header(2, 1), trusted([]byte("a")), u16(0xFFFF), make([]byte, 12)), "certificate type length", 27, false},
		{"key length", build(header(2, 1), u32(TagPrivateKey), u16(1), []byte("a"), u64(0), u32(0xFFFFFFFF), make([]byte, 12)), "key length", 27, false},
		{"certificate count", build(header(2, 1), u32(TagPrivateKey), u16(1), []byte("a"), u64(0), u32(0), u32(0xFFFFFFFF), make([]byte, 12)), "certificate count", 31, false},
		{"missing digest", header(2, 0)[:12], "file", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Walk(tt.data)
			var ge *Error
			require.True(t, errors.As(err, &ge), "want an *Error, got %v", err)
			assert.Equal(t, tt.field, ge.Field)
			assert.Equal(t, tt.offset, ge.Offset)
			assert.Equal(t, tt.secret, ge.SecretKey)
			if tt.secret {
				assert.Equal(t, "aes", ge.Alias)
			}
			assert.NotEmpty(t, ge.Detail)
		})
	}
}

func TestWalkVersion1(t *testing.T) {
	data := build(header(1, 1), u32(TagTrustedCert), u16(1), []byte("a"), u64(0), u32(2), []byte{1, 2})
	f, err := Walk(data)
	require.NoError(t, err)
	require.Len(t, f.Entries, 1)
	assert.Nil(t, f.Entries[0].Certs[0].Type)
	assert.Equal(t, []byte{1, 2}, f.Entries[0].Certs[0].DER)
}

// TestWalkAllocatesLittle: rejecting a file whose count claims 2^32
// entries allocates nothing in proportion.
func TestWalkAllocatesLittle(t *testing.T) {
	data := build(header(2, 0xFFFFFFFF), make([]byte, 30))
	allocs := testing.AllocsPerRun(100, func() { _, _ = Walk(data) })
	assert.LessOrEqual(t, allocs, 4.0)
}

func TestModifiedUTF8Rejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		off  int
	}{
		{"continuation first", []byte{'a', 0x80}, 1},
		{"four-byte lead", []byte{0xF0, 0x9F, 0x98, 0x80}, 0},
		{"truncated two", []byte{'a', 0xC3}, 1},
		{"truncated three", []byte{0xE2, 0x82}, 0},
		{"bad continuation", []byte{0xE2, 0x41, 0x80}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, err := CheckModifiedUTF8(tt.in)
			require.Error(t, err)
			assert.Equal(t, tt.off, off)
		})
	}
}

func FuzzWalk(f *testing.F) {
	for _, name := range []string{"3certs.jks", "RSA1024.jks", "custom_entry_passwords.jks", "empty.jks"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "jks", "pyjks", "jks", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(build(header(1, 1), u32(TagTrustedCert), u16(1), []byte("a"), u64(0), u32(2), []byte{1, 2}))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Walk(data)
		if err != nil {
			var ge *Error
			require.True(t, errors.As(err, &ge))
			require.True(t, ge.Offset >= 0 && ge.Offset <= int64(len(data)), "offset %d outside %d bytes", ge.Offset, len(data))
			return
		}
		require.Equal(t, len(data), fl.DigestOffset+DigestSize+fl.Trailing)
		pos := 12
		for _, e := range fl.Entries {
			require.Equal(t, pos, e.Start)
			require.LessOrEqual(t, e.Start, e.End)
			_, err := CheckModifiedUTF8(e.Alias)
			require.NoError(t, err)
			for _, c := range e.Certs {
				require.Equal(t, c.DER, data[c.Offset:c.Offset+len(c.DER)])
			}
			pos = e.End
		}
		require.Equal(t, pos, fl.DigestOffset)
		// Modified UTF-8 survives a decode and encode when it is canonical.
		for _, e := range fl.Entries {
			s := DecodeModifiedUTF8(e.Alias)
			again := DecodeModifiedUTF8(AppendModifiedUTF8(nil, s))
			require.Equal(t, s, again)
		}
	})
}
