package pkcs12

import (
	stdpbkdf2 "crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"unicode/utf16"
	"unicode/utf8"
)

// newHash returns the constructor of h.
func (h Hash) newHash() func() hash.Hash {
	switch h {
	case SHA1:
		return sha1.New
	case SHA224:
		return sha256.New224
	case SHA256:
		return sha256.New
	case SHA384:
		return sha512.New384
	case SHA512:
		return sha512.New
	case SHA512_224:
		return sha512.New512_224
	case SHA512_256:
		return sha512.New512_256
	}
	return nil
}

// Size returns the output size of h in bytes.
func (h Hash) Size() int {
	switch h {
	case SHA1:
		return 20
	case SHA224, SHA512_224:
		return 28
	case SHA256, SHA512_256:
		return 32
	case SHA384:
		return 48
	case SHA512:
		return 64
	}
	return 0
}

// blockSize returns the input block size of h in bytes (v in RFC 7292).
func (h Hash) blockSize() int {
	switch h {
	case SHA384, SHA512, SHA512_224, SHA512_256:
		return 128
	}
	return 64
}

// bmpPassword returns the password as the PKCS #12 KDF takes it: UTF-16
// big-endian with a terminating NUL (RFC 7292 appendix B.1). Characters
// outside the BMP become surrogate pairs, as Java and OpenSSL write them.
func bmpPassword(pw []byte) ([]byte, error) {
	if !utf8.Valid(pw) {
		return nil, ErrPasswordEncoding
	}
	out := make([]byte, 0, 2*len(pw)+2)
	for _, r := range string(pw) {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			out = append(out, byte(r1>>8), byte(r1), byte(r2>>8), byte(r2))
			continue
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return append(out, 0, 0), nil
}

// passwordForms returns the byte strings to try for the PKCS #12 KDF. An
// empty password has two forms in the wild: Java and OpenSSL write the
// BMPString of "" (just the NUL terminator), Windows and some OpenSSL
// callers an absent password (no bytes at all). Both read either, trying
// the NUL terminator first, and so does this package.
func passwordForms(pw []byte) ([][]byte, error) {
	b, err := bmpPassword(pw)
	if err != nil {
		return nil, err
	}
	if len(pw) == 0 {
		return [][]byte{b, {}}, nil
	}
	return [][]byte{b}, nil
}

// Purposes of PKCS #12 KDF output (the diversifier ID of RFC 7292 B.3).
const (
	kdfKey byte = 1
	kdfIV  byte = 2
	kdfMAC byte = 3
)

// pkcs12KDF derives size bytes from password (already in its BMPString
// form) and salt as RFC 7292 appendix B.2 describes.
func pkcs12KDF(h Hash, password, salt []byte, iterations int, id byte, size int) []byte {
	newH := h.newHash()
	u, v := h.Size(), h.blockSize()
	derived.Add(int64((size+u-1)/u) * int64(iterations) * h.weight())
	// I = S || P, each repeated to a multiple of v bytes.
	sLen := v * ((len(salt) + v - 1) / v)
	pLen := v * ((len(password) + v - 1) / v)
	I := make([]byte, sLen+pLen)
	for i := 0; i < sLen; i++ {
		I[i] = salt[i%len(salt)]
	}
	for i := 0; i < pLen; i++ {
		I[sLen+i] = password[i%len(password)]
	}
	D := make([]byte, v)
	for i := range D {
		D[i] = id
	}
	out := make([]byte, 0, size+u)
	hh := newH()
	A := make([]byte, 0, u)
	B := make([]byte, v)
	for len(out) < size {
		hh.Reset()
		hh.Write(D)
		hh.Write(I)
		A = hh.Sum(A[:0])
		for r := 1; r < iterations; r++ {
			hh.Reset()
			hh.Write(A)
			A = hh.Sum(A[:0])
		}
		out = append(out, A...)
		if len(out) >= size {
			break
		}
		for i := range B {
			B[i] = A[i%len(A)]
		}
		// I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I.
		for j := 0; j < len(I); j += v {
			carry := uint16(1)
			blk := I[j : j+v]
			for k := v - 1; k >= 0; k-- {
				sum := uint16(blk[k]) + uint16(B[k]) + carry
				blk[k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:size]
}

// pbkdf2 is PBKDF2 from RFC 8018 section 5.2 with HMAC-h as the PRF,
// computed by crypto/pbkdf2. It counts the blocks derived (see
// [DerivedBlocks]) before the call, as pkcs12KDF does; callers charge the
// file's [Work] before calling it. crypto/pbkdf2 takes the password as a
// string, so the call copies it once into memory that cannot be cleared.
func pbkdf2(h Hash, password, salt []byte, iterations, keyLen int) ([]byte, error) {
	hLen := h.Size()
	blocks := (keyLen + hLen - 1) / hLen
	derived.Add(int64(blocks) * 2 * int64(iterations) * h.weight())
	key, err := stdpbkdf2.Key(h.newHash(), string(password), salt, iterations, keyLen)
	if err != nil {
		// Only FIPS 140-only mode refuses parameters the limits allow.
		return nil, fmt.Errorf("pkcs12: PBKDF2 with HMAC-%v: %w", h, err)
	}
	return key, nil
}
