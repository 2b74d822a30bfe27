package pkcs12

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodeByNodes is Encode as it was before it wrote the file in one
// pass: each level encoded on its own, the SafeContents encrypted with
// Encrypt, the MAC computed by macNode. Encode must write the same bytes
// from the same randomness.
func encodeByNodes(s *EncodeSpec) ([]byte, error) {
	cis := make([]*node, 0, len(s.Contents))
	for _, c := range s.Contents {
		kids := make([]*node, len(c.Bags))
		for i, b := range c.Bags {
			kids[i] = rawNode(b)
		}
		sc := consNode(tagSequence, kids...).encode()
		if c.Enc == nil {
			cis = append(cis, consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, sc))))
			continue
		}
		alg, ct, err := Encrypt(*c.Enc, s.Password, s.Rand, sc)
		if err != nil {
			return nil, err
		}
		ed := consNode(tagSequence, intNode(0),
			consNode(tagSequence, oidNode(oidData), rawNode(alg), primNode(tagImplicit0, ct)))
		cis = append(cis, consNode(tagSequence, oidNode(oidEncryptedData), consNode(tagExplicit0, ed)))
	}
	authSafe := consNode(tagSequence, cis...).encode()
	pfx := consNode(tagSequence, intNode(3),
		consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, primNode(tagOctetString, authSafe))))
	if s.MAC.Kind != NoMAC {
		md, err := macNode(s.MAC, s.Password, s.Rand, authSafe)
		if err != nil {
			return nil, err
		}
		pfx.kids = append(pfx.kids, md)
	}
	return pfx.encode(), nil
}

// TestEncodeOnePass: Encode writes what encoding level by level writes,
// for every cipher and MAC, SafeContents of every size around the block
// and length-octet boundaries, and no contents at all.
func TestEncodeOnePass(t *testing.T) {
	macs := []MACParams{{}, {Kind: HMAC, Hash: SHA256, Iterations: 2, SaltLen: 8}, {Kind: HMAC, Hash: SHA1, Iterations: 1, SaltLen: 20},
		{Kind: PBMAC1, Hash: SHA256, KDFPRF: SHA256, Iterations: 2, SaltLen: 16, KeyLen: 32}, {Kind: PBMAC1, Hash: SHA512, KDFPRF: SHA1, Iterations: 1, SaltLen: 8, KeyLen: 64}}
	encs := []*EncParams{nil, {Cipher: PBES2AES256CBC, PRF: SHA256, Iterations: 2, SaltLen: 16}, {Cipher: PBES2DESEDE3CBC, PRF: SHA1, Iterations: 1, SaltLen: 8},
		{Cipher: PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 2, SaltLen: 8}, {Cipher: PBEWithSHAAnd40BitRC2CBC, Iterations: 1, SaltLen: 8}}
	r := rand.New(rand.NewSource(7))
	bags := func(n, size int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			b := make([]byte, size+i%3)
			r.Read(b)
			out[i] = NewCertBag(b, Attrs{LocalKeyID: []byte{byte(i)}})
		}
		return out
	}
	for seed, mac := range macs {
		for _, enc := range encs {
			for _, shape := range [][2]int{{0, 0}, {1, 1}, {1, 90}, {2, 100}, {3, 200}, {40, 1500}} {
				plain, sealed := bags(shape[0], shape[1]), bags(shape[0], shape[1]+7)
				spec := func(src int64) *EncodeSpec {
					s := &EncodeSpec{Password: []byte("pässword"), Rand: rand.New(rand.NewSource(src)), MAC: mac}
					if shape[0] > 0 {
						s.Contents = []ContentSpec{{Bags: plain}, {Bags: sealed, Enc: enc}}
					}
					return s
				}
				want, err := encodeByNodes(spec(int64(seed)))
				require.NoError(t, err)
				got, err := Encode(spec(int64(seed)))
				require.NoError(t, err)
				assert.Equal(t, want, got, "MAC %v, encryption %v, %v", mac, enc, shape)
			}
		}
	}
}
