package pkcs12

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBagPiecesFromRaw: what a Bag finds again in Raw when asked (its
// bagId, its value, its attributes, a shrouded key's parameters and
// ciphertext) is what was written, for bags read by the fast path and by
// the checking parser alike.
func TestBagPiecesFromRaw(t *testing.T) {
	key, cert, unknown, _ := testBags(t)
	sc := consNode(tagSequence, rawNode(key), rawNode(cert), rawNode(unknown)).encode()
	for _, slow := range []bool{false, true} {
		br := &bagReader{slow: slow}
		bags, err := parseSafeContents(sc, 0, br, nil)
		require.NoError(t, err)
		require.Len(t, bags, 3)

		k := bags[0]
		assert.Equal(t, oidShroudedKeyBag, k.TypeOID())
		alg, err := k.KeyAlg()
		require.NoError(t, err)
		assert.Equal(t, PBES2AES256CBC, alg.Cipher)
		v := k.Value()
		require.NotEmpty(t, v)
		assert.Equal(t, byte(tagSequence), v[0])
		ct := k.EncryptedKey()
		require.Len(t, ct, 32, "a 19-byte PrivateKeyInfo padded to two AES blocks")
		assert.Equal(t, v[len(v)-32:], ct, "the encryptedData ends the value")
		pkcs8, err := k.DecryptKey([]byte("pw"))
		require.NoError(t, err)
		assert.Equal(t, unhex(t, "3010020100300306010004064142434445 46"), pkcs8)
		assert.Equal(t, "Käy", k.FriendlyName())
		require.Len(t, k.Attributes(), 2)
		assert.True(t, k.Attributes()[0].IsFriendlyName())
		assert.True(t, k.Attributes()[1].IsLocalKeyID())

		c := bags[1]
		assert.Equal(t, oidCertBag, c.TypeOID())
		assert.Nil(t, c.EncryptedKey())
		require.Len(t, c.Attributes(), 3)
		assert.True(t, c.Attributes()[1].IsJavaTrust(), "written after the friendlyName")
		assert.Equal(t, cert, WithAttrs(c, Attrs{FriendlyName: "Root", HasFriendlyName: true, JavaTrust: true,
			Extra: [][]byte{unhex(t, "300A 0603 2A0304 3103 0C01 78")}}), "the value kept as read")

		u := bags[2]
		assert.Equal(t, unhex(t, "2A0305"), u.TypeOID())
		assert.Equal(t, unhex(t, "0C01 79"), u.Value())
		require.Len(t, u.Attributes(), 1)
		assert.False(t, u.HasFriendlyName())
	}
}
