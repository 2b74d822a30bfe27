package pkcs12

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
	"github.com/certroll/certroll/keystore/internal/der"
)

// toBER rewrites DER as BER the way streaming encoders write it: every
// constructed element gets an indefinite length and every OCTET STRING
// longer than 5 bytes is cut into constructed pieces of 5.
func toBER(t testing.TB, in []byte) []byte {
	t.Helper()
	var out []byte
	for i := 0; i < len(in); {
		h, err := der.ReadHeader(in, i, len(in))
		require.Nil(t, err)
		tag := in[i]
		content := in[h.ContentStart:h.End()]
		switch {
		case h.Constructed:
			out = append(out, tag, 0x80)
			out = append(out, toBER(t, content)...)
			out = append(out, 0, 0)
		case tag == tagOctetString && len(content) > 5:
			out = append(out, 0x24, 0x80)
			for len(content) > 0 {
				n := min(5, len(content))
				out = append(out, tagOctetString, byte(n))
				out = append(out, content[:n]...)
				content = content[n:]
			}
			out = append(out, 0, 0)
		default:
			out = append(out, in[i:h.End()]...)
		}
		i = h.End()
	}
	return out
}

func testBags(t testing.TB) (key, cert, unknown, nested []byte) {
	t.Helper()
	pw := []byte("pw")
	key, err := NewShroudedKeyBag(unhex(t, "3010020100300306010004064142434445 46"), Attrs{FriendlyName: "Käy", HasFriendlyName: true, LocalKeyID: []byte("Time 1")},
		EncParams{Cipher: PBES2AES256CBC, PRF: SHA256, Iterations: 2, SaltLen: 8}, pw, rand.New(rand.NewSource(1)))
	require.NoError(t, err)
	cert = NewCertBag([]byte("not parsed here"), Attrs{FriendlyName: "Root", HasFriendlyName: true, JavaTrust: true,
		Extra: [][]byte{unhex(t, "300A 0603 2A0304 3103 0C01 78")}})
	unknown = unhex(t, "3015 0603 2A0305 A003 0C01 79 3109 3007 06012A 31020500")
	inner := NewCertBag([]byte("nested"), Attrs{LocalKeyID: []byte{1}})
	sc := consNode(tagSequence, rawNode(inner)).encode()
	nested = bagNode(oidSafeContentsBag, rawNode(sc), Attrs{})
	return
}

// TestDecodeBER builds a file whose every level (PFX, AuthenticatedSafe,
// SafeContents, encrypted SafeContents) is BER, and reads the same bags as
// from its DER twin.
func TestDecodeBER(t *testing.T) {
	key, cert, unknown, nested := testBags(t)
	pw := []byte("pw")
	plainSC := toBER(t, consNode(tagSequence, rawNode(key), rawNode(unknown)).encode())
	encSC := toBER(t, consNode(tagSequence, rawNode(cert), rawNode(nested)).encode())
	alg, ct, err := Encrypt(EncParams{Cipher: PBEWithSHAAnd40BitRC2CBC, Iterations: 3, SaltLen: 8}, pw, rand.New(rand.NewSource(2)), encSC)
	require.NoError(t, err)
	authSafe := toBER(t, consNode(tagSequence,
		consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, plainSC))),
		consNode(tagSequence, oidNode(oidEncryptedData), consNode(tagExplicit0, consNode(tagSequence, intNode(0),
			consNode(tagSequence, oidNode(oidData), rawNode(alg), primNode(tagImplicit0, ct))))),
	).encode())
	mac, err := macNode(MACParams{Kind: HMAC, Hash: SHA256, Iterations: 2, SaltLen: 8}, pw, rand.New(rand.NewSource(3)), authSafe)
	require.NoError(t, err)
	pfx := toBER(t, consNode(tagSequence, intNode(3),
		consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, authSafe))), mac).encode())
	require.NotEqual(t, byte(0x82), pfx[1], "the file should be BER")

	f, err := Decode(pfx, pw)
	require.NoError(t, err)
	require.Len(t, f.Bags, 4)
	assert.Equal(t, []Contents{{Encrypted: false, Bags: 2}, {Encrypted: true, Alg: f.Contents[1].Alg, Bags: 2}}, f.Contents)
	assert.Equal(t, PBEWithSHAAnd40BitRC2CBC, f.Contents[1].Alg.Cipher)
	assert.Equal(t, MACParams{Kind: HMAC, Hash: SHA256, Iterations: 2, SaltLen: 8}, f.MAC)

	k := f.Bags[0]
	assert.Equal(t, ShroudedKeyBag, k.Type)
	assert.Equal(t, "Käy", k.FriendlyName())
	assert.Equal(t, []byte("Time 1"), k.LocalKeyID())
	assert.Equal(t, key, k.Raw, "a BER bag reads back as its DER encoding")
	pkcs8, err := k.DecryptKey(pw)
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "3010020100300306010004064142434445 46"), pkcs8)
	_, err = k.DecryptKey([]byte("wrong"))
	assert.ErrorIs(t, err, ErrDecrypt)

	assert.Equal(t, OtherBag, f.Bags[1].Type)
	assert.Equal(t, unknown, f.Bags[1].Raw)
	c := f.Bags[2]
	assert.Equal(t, CertBag, c.Type)
	assert.True(t, c.JavaTrust)
	assert.Equal(t, []byte("not parsed here"), c.Cert())
	require.Len(t, c.Attributes(), 3)
	assert.True(t, c.Encrypted)
	assert.Equal(t, []byte("nested"), f.Bags[3].Cert(), "a safeContentsBag's bags are read in its place")
	assert.Equal(t, []byte{1}, f.Bags[3].LocalKeyID())

	_, err = Decode(pfx, []byte("wrong"))
	assert.ErrorIs(t, err, ErrMAC)
}

// TestEncodeDecode writes every MAC kind and reads it back.
func TestEncodeDecode(t *testing.T) {
	key, cert, unknown, nested := testBags(t)
	for _, mac := range []MACParams{
		{},
		{Kind: HMAC, Hash: SHA1, Iterations: 1, SaltLen: 20},
		{Kind: HMAC, Hash: SHA512, Iterations: 2, SaltLen: 8},
		{Kind: PBMAC1, Hash: SHA256, KDFPRF: SHA512, Iterations: 2, SaltLen: 16, KeyLen: 32},
		{Kind: PBMAC1, Hash: SHA512, KDFPRF: SHA1, Iterations: 1, SaltLen: 16, KeyLen: 20},
	} {
		t.Run(mac.String(), func(t *testing.T) {
			enc := EncParams{Cipher: PBES2AES128CBC, PRF: SHA1, Iterations: 2, SaltLen: 8}
			out, err := Encode(&EncodeSpec{Password: []byte("pw"), Rand: rand.New(rand.NewSource(1)), MAC: mac,
				Contents: []ContentSpec{{Bags: [][]byte{key, unknown}}, {Bags: [][]byte{cert, nested}, Enc: &enc}}})
			require.NoError(t, err)
			f, err := Decode(out, []byte("pw"))
			require.NoError(t, err)
			assert.Equal(t, mac, f.MAC)
			require.Len(t, f.Bags, 4)
			assert.Equal(t, enc, f.Contents[1].Alg.EncParams)
			_, err = Decode(out, []byte("wrong"))
			if mac.Kind == NoMAC {
				assert.ErrorIs(t, err, ErrDecrypt, "without a MAC the encrypted SafeContents gives the wrong password away")
			} else {
				assert.ErrorIs(t, err, ErrMAC)
			}
		})
	}
	_, err := Encode(&EncodeSpec{Rand: rand.New(rand.NewSource(1)), MAC: MACParams{Kind: PBMAC1, Hash: SHA256, KDFPRF: SHA256, Iterations: 1, SaltLen: 8, KeyLen: 19}})
	assert.Error(t, err, "PBMAC1 keys under 20 octets are refused on write too")
}

// TestDecodeStructureErrors: malformed structures fail with a
// *FormatError that names the field and, for DER input, the offset.
func TestDecodeStructureErrors(t *testing.T) {
	ci := func(ctype []byte, content *node) *node {
		if content == nil {
			return consNode(tagSequence, oidNode(ctype))
		}
		return consNode(tagSequence, oidNode(ctype), consNode(tagExplicit0, content))
	}
	pfx := func(version int64, authSafe *node) []byte {
		return consNode(tagSequence, intNode(version), authSafe).encode()
	}
	data := func(b []byte) *node { return ci(oidData, primNode(tagOctetString, b)) }
	tests := []struct {
		name  string
		in    []byte
		field string
		want  string
	}{
		{"version 2", pfx(2, data(nil)), "PFX.version", "want 3, found 2"},
		{"signedData", pfx(3, ci(oidSignedData, nullNode)), "PFX.authSafe", "signedData"},
		{"no content", pfx(3, ci(oidData, nil)), "PFX.authSafe.content", "want [0]"},
		{"empty authSafe", pfx(3, data(nil)), "AuthenticatedSafe", "found nothing"},
		{"authSafe not a SEQUENCE", pfx(3, data([]byte{0x04, 0x00})), "AuthenticatedSafe", "want SEQUENCE"},
		{"trailing bytes in authSafe", pfx(3, data([]byte{0x30, 0x00, 0x00})), "AuthenticatedSafe", "1 unexpected bytes"},
		{"envelopedData", pfx(3, data(consNode(tagSequence, ci(oidEnvelopedData, nullNode)).encode())), "authSafe[0]", "envelopedData"},
		{"bag without value", pfx(3, data(consNode(tagSequence, data(consNode(tagSequence, consNode(tagSequence, oidNode(oidCertBag))).encode())).encode())),
			"authSafe[0].bag[0].bagValue", "want [0]"},
		{"friendlyName of odd length", pfx(3, data(consNode(tagSequence, data(consNode(tagSequence,
			consNode(tagSequence, oidNode(oidCRLBag), consNode(tagExplicit0, nullNode),
				consNode(tagSet, consNode(tagSequence, oidNode(oidFriendlyName), consNode(tagSet, primNode(tagBMPString, []byte{0, 0x41, 0})))))).encode())).encode())),
			"authSafe[0].bag[0].bagAttributes[0].friendlyName", "odd length 3"},
		{"nesting beyond 8 safeContentsBags", pfx(3, data(consNode(tagSequence, data(nestedBags(9))).encode())),
			"authSafe[0]" + strings.Repeat(".bag[0]", 9) + ".safeContentsBag nesting", "is 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in, nil)
			require.Error(t, err)
			var (
				fe *FormatError
				ue *UnsupportedError
				le *LimitError
			)
			switch {
			case errors.As(err, &fe):
				assert.Equal(t, tt.field, fe.Field)
				assert.Contains(t, fe.Detail, tt.want)
				assert.GreaterOrEqual(t, fe.Offset, int64(-1))
			case errors.As(err, &ue):
				assert.Equal(t, tt.field, ue.Field)
				assert.Contains(t, ue.What, tt.want)
			case errors.As(err, &le):
				assert.Equal(t, tt.field, le.Field)
				assert.Contains(t, le.Error(), tt.want)
			default:
				t.Fatalf("unexpected error %T: %v", err, err)
			}
		})
	}
}

// nestedBags returns a SafeContents with n safeContentsBags inside each
// other.
func nestedBags(n int) []byte {
	sc := consNode(tagSequence).encode()
	for i := 0; i < n; i++ {
		sc = consNode(tagSequence, rawNode(bagNode(oidSafeContentsBag, rawNode(sc), Attrs{}))).encode()
	}
	return sc
}

// TestDecodeVectors decodes the PKCS#12 vectors of the corpus: none
// panics and the readable ones give bags. (What they hold is checked in
// the keystore package.)
func TestDecodeVectors(t *testing.T) {
	files, err := filepath.Glob("../../testdata/pkcs12/*/*.p*")
	require.NoError(t, err)
	top, err := filepath.Glob("../../testdata/pkcs12/*.p12")
	require.NoError(t, err)
	files = append(files, top...)
	require.Greater(t, len(files), 50)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, pw := range []string{"", "password", "cryptography", "1234", "changeit"} {
			file, err := Decode(data, []byte(pw))
			if err == nil {
				assert.NotNil(t, file, f)
			}
		}
	}
}

// FuzzDecode: Decode never panics, and what it reads re-encodes and
// decodes to the same bags.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/pkcs12/*/*.p*")
	top, _ := filepath.Glob("../../testdata/pkcs12/*.p12")
	for _, name := range append(files, top...) {
		if data, err := os.ReadFile(name); err == nil && bytes.HasPrefix(data, []byte{0x30}) {
			f.Add(data)
		}
	}
	// Light seeds from the hostile corpus: refused for their work, or
	// cheap, and small enough to mutate and minimize quickly.
	for _, data := range [][]byte{hostile.PBMAC1LongKey(), hostile.ManyDerivations(2), hostile.ManyTinyPieces(3),
		hostile.UnpairedKeys(2, 1), {0x30, 0x03, 0x02, 0x01, 0x03}, {0x30, 0x80, 0x02, 0x01, 0x03, 0x00, 0x00}} {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := DerivedBlocks()
		file, err := Decode(data, nil)
		if done := DerivedBlocks() - before; done > MaxWork {
			t.Fatalf("Decode derived %d hash blocks; the budget is %d", done, MaxWork)
		}
		// DecodeInPlace reads what Decode reads, fails as it fails and
		// then leaves its buffer as it was, and otherwise Reseal gives
		// the file back.
		buf := bytes.Clone(data)
		inPlace, ierr := DecodeInPlace(buf, nil)
		if err != nil {
			require.Error(t, ierr)
			require.Equal(t, err.Error(), ierr.Error())
			require.True(t, bytes.Equal(data, buf), "a failed DecodeInPlace changed its buffer")
			return
		}
		require.NoError(t, ierr)
		require.Len(t, inPlace.Bags, len(file.Bags))
		for i, b := range inPlace.Bags {
			require.True(t, bytes.Equal(file.Bags[i].Raw, b.Raw))
		}
		inPlace.Sealed.Reseal(buf)
		require.True(t, bytes.Equal(data, buf), "Reseal does not give the file back")
		var bags [][]byte
		for _, b := range file.Bags {
			bags = append(bags, b.Raw)
		}
		out, err := Encode(&EncodeSpec{Rand: rand.New(rand.NewSource(1)), Contents: []ContentSpec{{Bags: bags}}})
		require.NoError(t, err)
		back, err := Decode(out, nil)
		require.NoError(t, err)
		require.Len(t, back.Bags, len(file.Bags))
		for i := range bags {
			require.True(t, bytes.Equal(bags[i], back.Bags[i].Raw))
		}
	})
}
