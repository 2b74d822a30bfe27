package pkcs12

import (
	"bytes"
	"context"
	"crypto/cipher"
	stdpbkdf2 "crypto/pbkdf2"
	"encoding/hex"
	"fmt"
	"hash"
	"math/rand"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runOpenSSL runs openssl with args and stdin and returns its standard
// output. It fails (never skips) when openssl is missing: CI installs it.
func runOpenSSL(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	require.NoError(t, err, "the tests need openssl (3.0 or later) on PATH")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), "openssl %s: %s", strings.Join(args, " "), stderr.String())
	return out.Bytes()
}

var opensslDigest = map[Hash]string{SHA1: "SHA1", SHA224: "SHA224", SHA256: "SHA256", SHA384: "SHA384", SHA512: "SHA512",
	SHA512_224: "SHA512-224", SHA512_256: "SHA512-256"}

// TestPKCS12KDFMatchesOpenSSL compares the PKCS #12 KDF with OpenSSL's
// (openssl kdf PKCS12KDF) for every hash, purpose, several iteration
// counts, salts, passwords and output lengths (several blocks included).
func TestPKCS12KDFMatchesOpenSSL(t *testing.T) {
	tests := []struct {
		hash Hash
		pw   string
		salt string
		iter int
		id   byte
		size int
	}{
		{SHA1, "smeg", "0A58CF64530D823F", 1, kdfKey, 24},
		{SHA1, "smeg", "0A58CF64530D823F", 1, kdfIV, 8},
		{SHA1, "queeg", "05DEC959ACFF72F7", 1000, kdfKey, 24},
		{SHA1, "", "05DEC959ACFF72F7", 1000, kdfMAC, 20},
		{SHA1, "σύνθημα γνώρισμα 😀", "01", 2048, kdfKey, 5},
		{SHA224, "changeit", "00112233445566778899AABBCCDDEEFF0011223344", 3, kdfMAC, 28},
		{SHA256, "changeit", strings.Repeat("AB", 64), 10000, kdfMAC, 32},
		{SHA256, "a long password that spans more than one sixty-four byte block of the KDF", "0102", 2, kdfKey, 100},
		{SHA384, "changeit", "0102030405060708", 5, kdfMAC, 48},
		{SHA512, "changeit", strings.Repeat("CD", 130), 7, kdfMAC, 200},
		{SHA512_224, "x", "01", 2, kdfMAC, 28},
		{SHA512_256, "x", "01", 2, kdfMAC, 32},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%d/%d/%q", tt.hash, tt.id, tt.iter, tt.pw), func(t *testing.T) {
			pw, err := bmpPassword([]byte(tt.pw))
			require.NoError(t, err)
			salt, err := hex.DecodeString(tt.salt)
			require.NoError(t, err)
			out := runOpenSSL(t, nil, "kdf", "-binary", "-keylen", fmt.Sprint(tt.size), "-kdfopt", "digest:"+opensslDigest[tt.hash],
				"-kdfopt", "hexpass:"+hex.EncodeToString(pw), "-kdfopt", "hexsalt:"+tt.salt,
				"-kdfopt", fmt.Sprintf("iter:%d", tt.iter), "-kdfopt", fmt.Sprintf("id:%d", tt.id), "PKCS12KDF")
			assert.Equal(t, hex.EncodeToString(out), hex.EncodeToString(pkcs12KDF(tt.hash, pw, salt, tt.iter, tt.id, tt.size)))
		})
	}
}

func TestBMPPassword(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "0000"},
		{"ab", "006100620000"},
		{"ä", "00e40000"},
		{"😀", "d83dde000000"}, // a surrogate pair, as Java and OpenSSL write it
	}
	for _, tt := range tests {
		got, err := bmpPassword([]byte(tt.in))
		require.NoError(t, err)
		assert.Equal(t, tt.want, hex.EncodeToString(got), tt.in)
	}
	_, err := bmpPassword([]byte{0xC3})
	assert.ErrorIs(t, err, ErrPasswordEncoding)
	forms, err := passwordForms(nil)
	require.NoError(t, err)
	assert.Equal(t, [][]byte{{0, 0}, {}}, forms, "an empty password is tried as the NUL terminator, then as nothing")
}

// TestPBKDF2MatchesStandardLibrary checks that pbkdf2 hands crypto/pbkdf2
// the right hash and counts the blocks it derives.
func TestPBKDF2MatchesStandardLibrary(t *testing.T) {
	for _, h := range []Hash{SHA1, SHA224, SHA256, SHA384, SHA512, SHA512_224, SHA512_256} {
		for _, tt := range []struct {
			pw      string
			iter, n int
		}{{"password", 1, 20}, {"", 2, 32}, {"passwordPASSWORDpassword", 4096, 25}, {"x", 3, 129}} {
			salt := []byte("saltSALTsaltSALTsaltSALTsaltSALTsalt")
			want, err := stdpbkdf2.Key(func() hash.Hash { return h.newHash()() }, tt.pw, salt, tt.iter, tt.n)
			require.NoError(t, err)
			before := DerivedBlocks()
			got, err := pbkdf2(h, []byte(tt.pw), salt, tt.iter, tt.n)
			require.NoError(t, err)
			assert.Equal(t, want, got, "%v %q %d %d", h, tt.pw, tt.iter, tt.n)
			blocks := int64((tt.n + h.Size() - 1) / h.Size())
			assert.Equal(t, blocks*2*int64(tt.iter)*h.weight(), DerivedBlocks()-before, "the derived blocks are counted")
		}
	}
}

// TestRC2Vectors are the test vectors of RFC 2268 section 5.
func TestRC2Vectors(t *testing.T) {
	tests := []struct {
		key  string
		bits int
		pt   string
		ct   string
	}{
		{"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
		{"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
		{"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
		{"88", 64, "0000000000000000", "61a8a244adacccf0"},
		{"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
		{"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
		{"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", 129, "0000000000000000", "5b78d3a43dfff1f1"},
	}
	for _, tt := range tests {
		key, _ := hex.DecodeString(tt.key)
		pt, _ := hex.DecodeString(tt.pt)
		c, err := newRC2(key, tt.bits)
		require.NoError(t, err)
		out := make([]byte, 8)
		c.Encrypt(out, pt)
		assert.Equal(t, tt.ct, hex.EncodeToString(out), "key %s, %d bits", tt.key, tt.bits)
		c.Decrypt(out, out)
		assert.Equal(t, tt.pt, hex.EncodeToString(out))
	}
	var seen [256]bool
	for _, b := range rc2PiTable {
		require.False(t, seen[b], "PITABLE repeats 0x%02x", b)
		seen[b] = true
	}
	_, err := newRC2(nil, 40)
	assert.Error(t, err)
	_, err = newRC2([]byte{1}, 0)
	assert.Error(t, err)
}

// TestRC2MatchesOpenSSL encrypts random data with RC2-40-CBC and
// RC2-128-CBC, as PKCS #12 uses them, and compares with OpenSSL (its
// legacy provider).
func TestRC2MatchesOpenSSL(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for _, tt := range []struct {
		name string
		key  int
		bits int
	}{{"rc2-40-cbc", 5, 40}, {"rc2-cbc", 16, 128}} {
		key, iv, pt := make([]byte, tt.key), make([]byte, 8), make([]byte, 8*37)
		rnd.Read(key)
		rnd.Read(iv)
		rnd.Read(pt)
		want := runOpenSSL(t, pt, "enc", "-e", "-"+tt.name, "-provider", "legacy", "-provider", "default", "-nopad",
			"-K", hex.EncodeToString(key), "-iv", hex.EncodeToString(iv))
		b, err := newRC2(key, tt.bits)
		require.NoError(t, err)
		got := make([]byte, len(pt))
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(got, pt)
		assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), tt.name)
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(got, got)
		assert.Equal(t, pt, got)
	}
}

// TestEncryptDecrypt round-trips every scheme, and a wrong password fails
// with ErrDecrypt.
func TestEncryptDecrypt(t *testing.T) {
	for _, c := range []Cipher{PBEWithSHAAnd3KeyTripleDESCBC, PBEWithSHAAnd2KeyTripleDESCBC, PBEWithSHAAnd128BitRC2CBC, PBEWithSHAAnd40BitRC2CBC,
		PBES2AES128CBC, PBES2AES192CBC, PBES2AES256CBC, PBES2DESEDE3CBC} {
		t.Run(c.String(), func(t *testing.T) {
			prfs := []Hash{SHA1, SHA224, SHA256, SHA384, SHA512, SHA512_224, SHA512_256}
			params := EncParams{Cipher: c, Iterations: 3, SaltLen: 8}
			for i, n := range []int{0, 1, 15, 16, 17, 100, 5, 7} {
				params.PRF = prfs[i%len(prfs)]
				pt := bytes.Repeat([]byte{0x30}, n)
				algDER, ct, err := Encrypt(params, []byte("pässword"), rand.New(rand.NewSource(int64(n))), pt)
				require.NoError(t, err)
				ap := newParser(algDER, -1, "alg")
				alg, err := parseEncAlg(&ap)
				require.NoError(t, err)
				assert.Equal(t, c, alg.Cipher)
				assert.Equal(t, 3, alg.Iterations)
				if c.IsPBES2() {
					assert.Equal(t, params.PRF, alg.PRF)
				}
				got, err := alg.Decrypt([]byte("pässword"), ct, nil)
				require.NoError(t, err)
				assert.Equal(t, pt, got)
				_, err = alg.Decrypt([]byte("wrong"), ct, looksLikeSequence)
				assert.ErrorIs(t, err, ErrDecrypt)
			}
		})
	}
	_, _, err := Encrypt(EncParams{Cipher: PBES2AES256CBC, PRF: SHA256, Iterations: MaxIterations + 1, SaltLen: 8}, nil, rand.New(rand.NewSource(1)), nil)
	assert.Error(t, err)
	_, _, err = Encrypt(EncParams{Cipher: NoCipher, Iterations: 1, SaltLen: 8}, nil, rand.New(rand.NewSource(1)), nil)
	assert.Error(t, err)
}

func TestOIDString(t *testing.T) {
	assert.Equal(t, "1.2.840.113549.1.12.10.1.2", OIDString(oidShroudedKeyBag))
	assert.Equal(t, "2.16.840.1.113894.746875.1.1", OIDString(oidJavaTrust))
	assert.Equal(t, "2.5.29.37.0", OIDString(oidAnyExtendedKeyUsage))
	assert.Equal(t, "0x2A86", OIDString([]byte{0x2A, 0x86}), "a truncated OID is shown in hex")
	assert.Equal(t, "0x", OIDString(nil))
}
