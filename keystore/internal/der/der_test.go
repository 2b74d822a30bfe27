package der

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// TestToDER rewrites BER constructs as DER. The expected encodings follow
// X.690 section 10 (DER): definite, minimal lengths and primitive strings.
func TestToDER(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"DER is returned as it is", "30 03 02 01 03", "30 03 02 01 03"},
		{"indefinite SEQUENCE", "30 80 02 01 03 00 00", "30 03 02 01 03"},
		{"nested indefinite", "30 80 30 80 04 01 AA 00 00 02 01 01 00 00", "30 08 30 03 04 01 AA 02 01 01"},
		{"constructed OCTET STRING", "24 80 04 02 AA BB 04 01 CC 00 00", "04 03 AA BB CC"},
		{"constructed OCTET STRING, definite", "24 07 04 02 AA BB 04 01 CC", "04 03 AA BB CC"},
		{"nested constructed OCTET STRING", "24 80 24 80 04 01 AA 00 00 04 01 BB 00 00", "04 02 AA BB"},
		{"constructed BMPString", "3E 80 1E 02 00 41 1E 02 00 42 00 00", "1E 04 00 41 00 42"},
		{"constructed BIT STRING", "23 80 03 02 00 AA 03 02 04 B0 00 00", "03 03 04 AA B0"},
		{"empty constructed OCTET STRING", "24 80 00 00", "04 00"},
		{"long-form length for a short element", "04 81 01 AA", "04 01 AA"},
		{"length with a leading zero", "04 82 00 01 AA", "04 01 AA"},
		{"context tag kept constructed", "A0 80 04 01 AA 00 00", "A0 03 04 01 AA"},
		{"high tag number", "BF 81 00 80 05 00 00 00", "BF 81 00 02 05 00"},
		{"element then trailing bytes", "30 80 05 00 00 00 FF FF", "30 02 05 00"},
		{"length growing past 127", "30 80 04 7E " + strings.Repeat("00 ", 126) + "00 00", "30 81 80 04 7E " + strings.Repeat("00 ", 126)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			der, n, err := ToDER(in, 64)
			require.Nil(t, err)
			assert.Equal(t, strings.ToUpper(strings.ReplaceAll(tt.want, " ", "")), strings.ToUpper(hex.EncodeToString(der)))
			again, m, err := ToDER(der, 64)
			require.Nil(t, err)
			assert.Equal(t, der, again, "normalising DER changes nothing")
			assert.Equal(t, len(der), m)
			if tt.name == "DER is returned as it is" {
				assert.Same(t, &in[0], &der[0], "DER input is not copied")
			}
			if tt.name != "element then trailing bytes" {
				assert.Equal(t, len(in), n)
			} else {
				assert.Equal(t, 6, n)
			}
		})
	}
}

// TestErrors: every reader refuses malformed input with an *Error that
// says what was expected and what was found, at the offset of the
// problem. The header errors are the same from all three readers.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, in, detail string
		offset           int
		header           bool // a header problem: Read and ReadElement report it too
	}{
		{"empty", "", "expected an ASN.1 element, found the end of the data", 0, true},
		{"truncated length", "30", "expected a length, found the end of the data (truncated?)", 1, true},
		{"truncated long length", "30 82 01", "expected a 2-byte length, found the end", 2, true},
		{"length beyond the input", "30 05 02 01", "expected 5 bytes of contents; the length exceeds the 2 bytes left, found the end of the data", 0, true},
		{"huge length", "30 84 7F FF FF FF 00", "2147483647 bytes of contents", 0, true},
		{"length of 5 octets", "30 85 01 00 00 00 00", "expected a length of at most 4 bytes, found one of 5 bytes", 1, true},
		{"indefinite primitive", "04 80 00 00", "expected a definite length on a primitive element, found the indefinite form", 0, true},
		{"reserved length", "04 FF", "expected a length, found the reserved byte 0xff", 1, true},
		{"tag number of 5 octets", "1F 81 81 81 81 01 00", "expected a tag number of at most 4 bytes", 0, true},
		{"tag number with a leading zero digit", "1F 80 01 00", "shortest form", 0, true},
		{"truncated tag number", "1F 81", "expected the rest of a tag number", 2, true},
		{"missing end-of-contents", "30 80 02 01 03", "expected the end-of-contents octets of this indefinite-length element, found the end of the data", 0, false},
		{"child overruns its parent", "30 02 04 05 01 02 03 04 05", "expected 5 bytes of contents; the length exceeds the 0 bytes left", 2, false},
		{"foreign segment", "24 80 02 01 00 00 00", "expected an OCTET STRING segment of the constructed OCTET STRING, found an INTEGER", 2, false},
		{"empty BIT STRING segment", "23 80 03 00 00 00", "expected a BIT STRING segment that starts with its unused-bits octet, found an empty one", 2, false},
		{"deep nesting", strings.Repeat("30 80 ", 100) + strings.Repeat("00 00 ", 100), "expected elements nested at most 64 deep, found nesting deeper than 64 levels", 130, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			_, _, err := ToDER(in, 64)
			require.NotNil(t, err)
			assert.Contains(t, err.Detail, tt.detail)
			assert.Equal(t, tt.offset, err.Offset)
			assert.Contains(t, err.Error(), "der: at offset")
			if !tt.header {
				return
			}
			_, rerr := Read(in, 0)
			require.NotNil(t, rerr, "Read")
			assert.Equal(t, *err, *rerr, "Read reports what ToDER reports")
			_, eerr := ReadElement(in, 0, len(in), 64)
			require.NotNil(t, eerr, "ReadElement")
			assert.Equal(t, *err, *eerr, "ReadElement reports what ToDER reports")
		})
	}
}

// TestReadElement locates BER elements in place: indefinite lengths are
// followed to their end-of-contents octets, and nesting of indefinite
// lengths beyond the bound is refused.
func TestReadElement(t *testing.T) {
	in := unhex(t, "30 80 A0 80 04 01 AA 00 00 31 02 05 00 00 00 FF")
	e, err := ReadElement(in, 0, len(in), 4)
	require.Nil(t, err)
	assert.True(t, e.Is(ClassUniversal, 16, true))
	assert.Equal(t, "a SEQUENCE", e.Describe())
	assert.Equal(t, []int{0, 2, 13, 15}, []int{e.Start, e.ContentStart, e.ContentEnd, e.End})
	c := e.Children()
	var got []string
	for c.More() {
		k, err := c.Next(in)
		require.Nil(t, err)
		got = append(got, k.Describe())
	}
	assert.Equal(t, []string{"a context-specific [0] element", "a SET"}, got)
	_, err = c.Next(in)
	require.NotNil(t, err)
	assert.Contains(t, err.Detail, "expected another element, found the end of its enclosing element")

	deep := bytes.Repeat([]byte{0x30, 0x80}, 5)
	deep = append(deep, make([]byte, 10)...)
	_, err = ReadElement(deep, 0, len(deep), 4)
	require.NotNil(t, err)
	assert.Contains(t, err.Detail, "nested at most 4 deep")
	assert.Equal(t, 8, err.Offset, "the element nested too deep")
	_, err = ReadElement(deep, 0, len(deep), 5)
	assert.Nil(t, err)
}

// TestRead reads DER with cryptobyte, accepting high tag numbers and
// non-minimal lengths as the PKCS #12 reader always has, and refusing
// BER's indefinite lengths.
func TestRead(t *testing.T) {
	tests := []struct {
		name, in      string
		tag           byte
		content       string
		contentOffset int
	}{
		{"short form", "04 02 AA BB FF", 0x04, "AABB", 2},
		{"long form", "04 81 80 " + strings.Repeat("00 ", 128), 0x04, strings.Repeat("00", 128), 3},
		{"non-minimal length", "04 81 01 AA", 0x04, "AA", 3},
		{"high tag number", "9F 81 00 01 AA", 0x9F, "AA", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			got, err := Read(in, 0)
			require.Nil(t, err)
			assert.Equal(t, tt.tag, got.Tag)
			assert.Equal(t, strings.ReplaceAll(tt.content, " ", ""), strings.ToUpper(hex.EncodeToString(got.Content)))
			assert.Equal(t, tt.contentOffset, got.ContentStart)
			assert.Equal(t, in[:tt.contentOffset+len(got.Content)], got.Full)
		})
	}
	_, err := Read(unhex(t, "30 80 00 00"), 0)
	require.NotNil(t, err)
	assert.Contains(t, err.Detail, "expected a definite length (DER), found the indefinite form of BER")

	in := unhex(t, "30 06 02 01 01 04 01 AA")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Read(in, 2); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "reading DER does not allocate")
}

// TestStrict reads strict DER only, as the JDK's DerInputStream does.
func TestStrict(t *testing.T) {
	c, rest, ok := Strict(unhex(t, "30 03 04 01 AA FF"), TagSequence)
	require.True(t, ok)
	assert.Equal(t, unhex(t, "04 01 AA"), c)
	assert.Equal(t, []byte{0xFF}, rest)
	for _, in := range []string{"", "30", "31 00", "30 81 01 AA", "30 80 00 00", "30 02 04", "3F 81 00 00"} {
		_, _, ok := Strict(unhex(t, in), TagSequence)
		assert.False(t, ok, "%q", in)
	}
}

// FuzzDER checks the three readers on any input: none panics; ToDER's
// output is DER that ToDER returns unchanged, no longer than twice the
// input plus a few header octets; Read walks every element of that DER
// and finds the boundaries ReadElement finds; and ReadElement stays within
// the input.
func FuzzDER(f *testing.F) {
	for _, s := range []string{"3003020103", "30800201030000", "2480040104000000", "3E801E0200411E0200420000", "BF81008005000000",
		"3080A0800401AA0000310205000000", "23800302 00AA 0302 04B0 0000", "308030800000 0000"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if e, err := ReadElement(in, 0, len(in), 32); err == nil {
			require.LessOrEqual(t, e.End, len(in))
			walkBER(t, in, e)
		}
		der, n, err := ToDER(in, 64)
		if err != nil {
			return
		}
		require.LessOrEqual(t, n, len(in))
		again, m, err := ToDER(der, 64)
		require.Nil(t, err)
		require.Equal(t, len(der), m)
		require.True(t, bytes.Equal(der, again))
		require.LessOrEqual(t, len(der), 2*n+8)
		e, eerr := ReadElement(der, 0, len(der), 64)
		require.Nil(t, eerr)
		require.Equal(t, len(der), e.End)
		walkDER(t, der, e)
	})
}

// walkBER reads every child of e, checking each lies within e.
func walkBER(t *testing.T, in []byte, e Element) {
	if !e.Constructed {
		return
	}
	for c := e.Children(); c.More(); {
		k, err := c.Next(in)
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, k.Start, e.ContentStart)
		require.LessOrEqual(t, k.End, e.ContentEnd)
		walkBER(t, in, k)
	}
}

// walkDER reads the DER element e with Read and its children with both
// readers, requiring them to agree.
func walkDER(t *testing.T, in []byte, e Element) {
	got, err := Read(in, e.Start)
	require.Nil(t, err)
	require.Equal(t, e.End, got.Start+len(got.Full))
	require.Equal(t, e.ContentStart, got.ContentStart)
	if !e.Constructed {
		return
	}
	for c := e.Children(); c.More(); {
		k, err := c.Next(in)
		require.Nil(t, err)
		walkDER(t, in, k)
	}
}

// hostileBER is the input that made smallstep/pkcs7 slow: a 300 KB
// indefinite-length SEQUENCE of tiny elements.
func hostileBER() []byte {
	in := append([]byte{0x30, 0x80}, bytes.Repeat([]byte{0x04, 0x01, 0xff}, 300_000/3)...)
	return append(in, 0, 0)
}

func BenchmarkHostileBER(b *testing.B) {
	in := hostileBER()
	b.Run("ReadElement", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			e, err := ReadElement(in, 0, len(in), 32)
			if err != nil {
				b.Fatal(err)
			}
			for c := e.Children(); c.More(); {
				if _, err := c.Next(in); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("ToDER", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, _, err := ToDER(in, 64); err != nil {
				b.Fatal(err)
			}
		}
	})
}
