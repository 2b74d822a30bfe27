package pkcs12

import (
	"bytes"
	"crypto/cipher"
	"fmt"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inPlaceFile writes a file of n certificate bags of size bytes each,
// encrypted with enc, after an unencrypted SafeContents of two bags, as
// keytool lays them out.
func inPlaceFile(t testing.TB, mac MACParams, enc EncParams, pw []byte, n, size int) []byte {
	t.Helper()
	r := rand.New(rand.NewSource(int64(n*31 + size)))
	certs := make([][]byte, n)
	for i := range certs {
		b := make([]byte, size)
		r.Read(b)
		certs[i] = NewCertBag(b, Attrs{FriendlyName: fmt.Sprintf("c%d", i), HasFriendlyName: true, LocalKeyID: []byte{byte(i)}})
	}
	plain := [][]byte{NewCertBag([]byte("plain one"), Attrs{}), NewCertBag([]byte("plain two"), Attrs{JavaTrust: true})}
	out, err := Encode(&EncodeSpec{Password: pw, Rand: r, MAC: mac, Contents: []ContentSpec{{Bags: plain}, {Bags: certs, Enc: &enc}}})
	require.NoError(t, err)
	return out
}

// within reports whether b is a piece of buf.
func within(b, buf []byte) bool {
	if len(b) == 0 || len(buf) == 0 {
		return false
	}
	for i := range buf {
		if &buf[i] == &b[0] {
			return i+len(b) <= len(buf)
		}
	}
	return false
}

// TestDecodeInPlace: DecodeInPlace reads the bags Decode reads, the
// encrypted ones from the caller's buffer itself (no copy of them), and
// Reseal turns the buffer back into the file, byte for byte, for every
// cipher and MAC, files whose ciphertext spans many of the MAC's
// stretches (run with -race: the decrypter follows the MAC) and files
// of one block.
func TestDecodeInPlace(t *testing.T) {
	pw := []byte("pässword")
	macs := []MACParams{{}, {Kind: HMAC, Hash: SHA256, Iterations: 2, SaltLen: 8},
		{Kind: PBMAC1, Hash: SHA256, KDFPRF: SHA256, Iterations: 2, SaltLen: 16, KeyLen: 32}}
	encs := []EncParams{{Cipher: PBES2AES256CBC, PRF: SHA256, Iterations: 2, SaltLen: 16}, {Cipher: PBES2DESEDE3CBC, PRF: SHA1, Iterations: 1, SaltLen: 8},
		{Cipher: PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 2, SaltLen: 8}, {Cipher: PBEWithSHAAnd40BitRC2CBC, Iterations: 1, SaltLen: 8}}
	for _, mac := range macs {
		for _, enc := range encs {
			for _, shape := range [][2]int{{1, 1}, {3, 200}, {400, 1000}} {
				t.Run(fmt.Sprintf("%v/%v/%dx%d", mac, enc, shape[0], shape[1]), func(t *testing.T) {
					file := inPlaceFile(t, mac, enc, pw, shape[0], shape[1])
					want, err := Decode(file, pw)
					require.NoError(t, err)
					assert.Nil(t, want.Sealed, "Decode leaves its input alone")

					buf := bytes.Clone(file)
					got, err := DecodeInPlace(buf, pw)
					require.NoError(t, err)
					require.Len(t, got.Bags, len(want.Bags))
					for i, b := range got.Bags {
						assert.Equal(t, want.Bags[i].Raw, b.Raw, "bag %d", i)
						assert.Equal(t, want.Bags[i].FriendlyName(), b.FriendlyName(), "bag %d", i)
						assert.True(t, within(b.Raw, buf), "bag %d is a piece of the buffer", i)
					}
					assert.Equal(t, want.Contents, got.Contents)
					require.NotNil(t, got.Sealed)
					assert.NotEqual(t, file, buf, "the certificates were decrypted where they were")

					again := bytes.Clone(buf)
					got.Sealed.Reseal(again)
					assert.Equal(t, file, again, "Reseal gives the file back")
					got.Sealed.Reseal(buf)
					assert.Equal(t, file, buf)
				})
			}
		}
	}
}

// TestDecodeInPlaceErrors: whatever makes DecodeInPlace fail (a wrong
// password, a changed ciphertext, a SafeContents that decrypts but does
// not parse), it returns what Decode returns, the MAC's verdict first,
// and leaves the caller's buffer as it was.
func TestDecodeInPlaceErrors(t *testing.T) {
	pw := []byte("pw")
	mac := MACParams{Kind: HMAC, Hash: SHA256, Iterations: 2, SaltLen: 8}
	enc := EncParams{Cipher: PBES2AES128CBC, PRF: SHA256, Iterations: 2, SaltLen: 8}
	good := inPlaceFile(t, mac, enc, pw, 300, 1000)
	noMAC := inPlaceFile(t, MACParams{}, enc, pw, 300, 1000)

	changed := bytes.Clone(good)
	changed[len(changed)/2] ^= 1 // in the ciphertext: the keys' SafeContents is small

	// Bags the encoder takes as they are but the reader refuses: the MAC
	// matches, the SafeContents decrypts, and its second bag has no bagId.
	r := rand.New(rand.NewSource(5))
	broken, err := Encode(&EncodeSpec{Password: pw, Rand: r, MAC: mac, Contents: []ContentSpec{
		{Bags: [][]byte{NewCertBag([]byte("plain"), Attrs{})}},
		{Bags: [][]byte{NewCertBag(bytes.Repeat([]byte("x"), 100_000), Attrs{}), {0x30, 0x03, 0x02, 0x01, 0x00}}, Enc: &enc}}})
	require.NoError(t, err)

	for _, c := range []struct {
		name string
		data []byte
		pw   []byte
		want error
	}{
		{"wrong password", good, []byte("wrong"), ErrMAC},
		{"changed ciphertext", changed, pw, ErrMAC},
		{"wrong password without MAC", noMAC, []byte("wrong"), ErrDecrypt},
		{"bags that do not parse", broken, pw, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, werr := Decode(c.data, c.pw)
			require.Error(t, werr)
			if c.want != nil {
				assert.ErrorIs(t, werr, c.want)
			}
			buf := bytes.Clone(c.data)
			f, err := DecodeInPlace(buf, c.pw)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Equal(t, werr.Error(), err.Error(), "the error Decode gives")
			assert.Equal(t, c.data, buf, "the buffer is as it was given")
		})
	}
}

// TestDecodeInPlaceFallsBack: a file in BER, an AuthenticatedSafe in
// BER, and an encrypted SafeContents whose ciphertext is cut into BER
// segments are decrypted into a new buffer, as Decode does: the buffer
// is not changed, and the bags are Decode's.
func TestDecodeInPlaceFallsBack(t *testing.T) {
	pw := []byte("pw")
	mac := MACParams{Kind: HMAC, Hash: SHA1, Iterations: 1, SaltLen: 8}
	r := rand.New(rand.NewSource(3))
	var certs []*node
	for i := range 20 {
		b := make([]byte, 300)
		r.Read(b)
		certs = append(certs, rawNode(NewCertBag(b, Attrs{LocalKeyID: []byte{byte(i)}})))
	}
	alg, ct, err := Encrypt(EncParams{Cipher: PBES2AES256CBC, PRF: SHA256, Iterations: 1, SaltLen: 8}, pw, r, consNode(tagSequence, certs...).encode())
	require.NoError(t, err)
	plainSC := consNode(tagSequence, rawNode(NewCertBag([]byte("plain"), Attrs{}))).encode()
	assemble := func(berAuthSafe, segmented bool) []byte {
		content := primNode(tagImplicit0, ct)
		if segmented {
			content = consNode(tagExplicit0, primNode(tagOctetString, ct[:48]), primNode(tagOctetString, ct[48:]))
		}
		authSafe := consNode(tagSequence,
			consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, plainSC))),
			consNode(tagSequence, oidNode(oidEncryptedData), consNode(tagExplicit0, consNode(tagSequence, intNode(0),
				consNode(tagSequence, oidNode(oidData), rawNode(alg), content)))),
		).encode()
		if berAuthSafe {
			authSafe = toBER(t, authSafe)
		}
		md, err := macNode(mac, pw, r, authSafe)
		require.NoError(t, err)
		return consNode(tagSequence, intNode(3),
			consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, authSafe))), md).encode()
	}
	derFile := assemble(false, false)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"file in BER", toBER(t, derFile)},
		{"AuthenticatedSafe in BER", assemble(true, false)},
		{"ciphertext in segments", assemble(false, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := Decode(c.data, pw)
			require.NoError(t, err)
			require.Len(t, want.Bags, 21)
			buf := bytes.Clone(c.data)
			got, err := DecodeInPlace(buf, pw)
			require.NoError(t, err)
			assert.Nil(t, got.Sealed)
			assert.Equal(t, c.data, buf, "nothing was decrypted in the buffer")
			require.Len(t, got.Bags, len(want.Bags))
			for i := range got.Bags {
				assert.Equal(t, want.Bags[i].Raw, got.Bags[i].Raw)
			}
		})
	}
	// The same file in DER is decrypted in place.
	buf := bytes.Clone(derFile)
	got, err := DecodeInPlace(buf, pw)
	require.NoError(t, err)
	assert.NotNil(t, got.Sealed)
	assert.NotEqual(t, derFile, buf)
}

// TestDecodeInPlaceSecondPasswordForm: an empty password is tried as the
// BMPString terminator and then as no password at all. A file keyed with
// the second form makes the MAC hash the AuthenticatedSafe twice (the
// decrypter waits for the second pass) and the decryption undo its first
// try before the second: the bags read are right and Reseal gives the
// file back.
func TestDecodeInPlaceSecondPasswordForm(t *testing.T) {
	absent := []byte{}
	r := rand.New(rand.NewSource(9))
	certs := make([][]byte, 200)
	for i := range certs {
		b := make([]byte, 900)
		r.Read(b)
		certs[i] = NewCertBag(b, Attrs{LocalKeyID: []byte{byte(i)}})
	}
	sc := &node{tag: tagSequence, cons: true, raws: certs}
	plain := sc.encode()
	a := &Alg{EncParams: EncParams{Cipher: PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 2, SaltLen: 8}, Salt: []byte("saltsalt")}
	key, iv, err := a.deriveKeyIV(absent, nil)
	require.NoError(t, err)
	b, err := a.Cipher.block(key)
	require.NoError(t, err)
	n := 8 - len(plain)%8
	ct := append(bytes.Clone(plain), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, ct)
	authSafe := consNode(tagSequence,
		consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, consNode(tagSequence, rawNode(NewCertBag([]byte("k"), Attrs{}))).encode()))),
		consNode(tagSequence, oidNode(oidEncryptedData), consNode(tagExplicit0, consNode(tagSequence, intNode(0),
			consNode(tagSequence, oidNode(oidData), rawNode(a.node().encode()), primNode(tagImplicit0, ct))))),
	).encode()
	md := &macData{MACParams: MACParams{Kind: HMAC, Hash: SHA256, Iterations: 2, SaltLen: 8}, salt: []byte("macsalt!")}
	mkey, err := md.key(absent, nil)
	require.NoError(t, err)
	mw := &macWriter{md: md, key: mkey}
	file := consNode(tagSequence, intNode(3),
		consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, authSafe))),
		mw.node(md.sum(mkey, authSafe))).encode()

	want, err := Decode(file, nil)
	require.NoError(t, err)
	require.Len(t, want.Bags, 201)
	buf := bytes.Clone(file)
	got, err := DecodeInPlace(buf, nil)
	require.NoError(t, err)
	require.Len(t, got.Bags, 201)
	for i := range got.Bags {
		assert.Equal(t, want.Bags[i].Raw, got.Bags[i].Raw)
	}
	require.NotNil(t, got.Sealed)
	got.Sealed.Reseal(buf)
	assert.Equal(t, file, buf)
}

// TestSealedPrintsNoKey: a Sealed printed with any verb shows no key
// material.
func TestSealedPrintsNoKey(t *testing.T) {
	pw := []byte("pw")
	buf := inPlaceFile(t, MACParams{}, EncParams{Cipher: PBES2AES128CBC, PRF: SHA256, Iterations: 1, SaltLen: 8}, pw, 2, 50)
	f, err := DecodeInPlace(buf, pw)
	require.NoError(t, err)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.Equal(t, "pkcs12.Sealed(1 SafeContents)", fmt.Sprintf(verb, f.Sealed), verb)
	}
	assert.Contains(t, fmt.Sprintf("%+v", *f), "pkcs12.Sealed(1 SafeContents)")
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		assert.Equal(t, "pkcs12.Sealed(1 SafeContents)", fmt.Sprintf(verb, *f.Sealed), verb+" of the value")
	}
}

// TestStreamBagsReadsNothingAheadOfTheDecrypter: a bag that ends where
// the decrypter has got to, with a truncated header at its tail, is
// refused without reading the bytes after it, which the decrypter is
// writing (fastBag reads within the bag only). The race detector fails
// it otherwise.
func TestStreamBagsReadsNothingAheadOfTheDecrypter(t *testing.T) {
	// bag: SEQUENCE { OID 2a0305, [0] { NULL }, SET { 30 84 } }
	evil := []byte{0x30, 0x0d, 0x06, 0x03, 0x2a, 0x03, 0x05, 0xa0, 0x02, 0x05, 0x00, 0x31, 0x02, 0x30, 0x84}
	const total = 2 * inPlaceChunk
	// SafeContents SEQUENCE header (30 83 LL LL LL), a filler bag, then evil ending at inPlaceChunk.
	scLen := total - 5
	ct := make([]byte, total)
	ct[0], ct[1], ct[2], ct[3], ct[4] = 0x30, 0x83, byte(scLen>>16), byte(scLen>>8), byte(scLen)
	fillerEnd := inPlaceChunk - len(evil)
	// filler: SEQUENCE { OID 2a0305, [0] { OCTET STRING ... } }
	fillerLen := fillerEnd - 5
	f := ct[5:fillerEnd]
	vlen := fillerLen - 4 - 5 - 4 // seq hdr 4 (30 82 xx xx), oid 5, [0] hdr 4
	olen := vlen - 4
	copy(f, []byte{0x30, 0x82, byte((fillerLen - 4) >> 8), byte(fillerLen - 4), 0x06, 0x03, 0x2a, 0x03, 0x05,
		0xa0, 0x82, byte(vlen >> 8), byte(vlen), 0x04, 0x82, byte(olen >> 8), byte(olen)})
	copy(ct[fillerEnd:], evil)
	// the rest: more bags would follow; bytes 0 for now

	dec := newProgress()
	dec.advance(inPlaceChunk) // the decrypter has written ct[:64K] ...
	wrote := make(chan struct{})
	go func() { // ... and now writes the next chunk
		for i := inPlaceChunk; i < total; i++ {
			ct[i] = 0x11
		}
		dec.advance(total)
		dec.finish()
		close(wrote)
	}()
	var br bagReader
	_, end := br.streamBags(ct, dec, nil)
	<-wrote
	require.Equal(t, -1, end)
}
