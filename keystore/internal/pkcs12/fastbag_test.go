package pkcs12

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fastBagSeeds are SafeBags of every shape the fast path reads, and some
// it leaves to the checking parser.
func fastBagSeeds(t testing.TB) [][]byte {
	t.Helper()
	key, err := NewShroudedKeyBag(unhex(t, "3010020100300306010004064142434445 46"), Attrs{FriendlyName: "Käy", HasFriendlyName: true, LocalKeyID: []byte("Time 1")},
		EncParams{Cipher: PBES2AES256CBC, PRF: SHA256, Iterations: 1, SaltLen: 8}, []byte("pw"), rand.New(rand.NewSource(1)))
	require.NoError(t, err)
	big := make([]byte, 300) // long-form lengths
	return [][]byte{
		key,
		NewCertBag([]byte("not parsed here"), Attrs{FriendlyName: "Root", HasFriendlyName: true, JavaTrust: true, LocalKeyID: []byte{}}),
		NewCertBag(big, Attrs{}),
		bagNode(oidKeyBag, primNode(tagOctetString, []byte("k")), Attrs{LocalKeyID: []byte{1}}),
		bagNode(oidCRLBag, consNode(tagSequence), Attrs{Extra: [][]byte{consNode(tagSequence, oidNode(oidFriendlyName), consNode(tagSet, primNode(tagUTF8String, []byte("u8")))).encode()}}),
		bagNode([]byte{1, 2, 3}, primNode(tagNull, nil), Attrs{}),
		bagNode(oidSafeContentsBag, consNode(tagSequence), Attrs{}),
	}
}

// checkFastBag reads sc (a SafeContents' contents) with the fast path
// and with the checking parser alone: whatever the fast path reads, the
// checking parser reads the same way.
func checkFastBag(t *testing.T, sc []byte) {
	fast, slow := &bagReader{}, &bagReader{slow: true}
	p := newParser(sc, 0, "SafeContents")
	b := fast.fastBag(&p)
	if b == nil {
		assert.Equal(t, 0, p.pos, "a refused bag leaves the parser where it was")
		return
	}
	q := newParser(sc, 0, "SafeContents")
	out, err := slow.parseBag(&q, nil, 0)
	require.NoError(t, err, "the fast path read a bag the parser refuses: %x", sc)
	require.Len(t, out, 1)
	assert.Equal(t, *out[0], *b, "%x", sc)
	assert.Equal(t, q.pos, p.pos)
}

// TestFastBagMatchesParser: every bag of the seeds, and every truncation
// and one-byte change of them, reads the same through the fast path as
// through the checking parser (or is left to the latter).
func TestFastBagMatchesParser(t *testing.T) {
	seeds := fastBagSeeds(t)
	for i, seed := range seeds {
		p := newParser(seed, 0, "")
		br := &bagReader{}
		// The last seed, a safeContentsBag, is the checking parser's.
		assert.Equal(t, i < len(seeds)-1, br.fastBag(&p) != nil, "seed %d", i)
		checkFastBag(t, seed)
		for n := range len(seed) {
			checkFastBag(t, seed[:n])
		}
		for i := range min(len(seed), 120) {
			for _, v := range []byte{0x00, 0x01, 0x80, 0x81, 0xff, seed[i] ^ 0x20, seed[i] + 1} {
				m := append([]byte(nil), seed...)
				m[i] = v
				checkFastBag(t, m)
			}
		}
	}
}

func FuzzFastBag(f *testing.F) {
	for _, s := range fastBagSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sc []byte) { checkFastBag(t, sc) })
}
