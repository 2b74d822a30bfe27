// Package pkcs12 is the bag-level PKCS #12 codec (RFC 7292) of package
// keystore, built on the standard library's crypto.
//
// # Usage
//
// [Decode] reads a file in DER or BER, checks its MAC and decrypts its
// encrypted SafeContents, and returns every SafeBag in file order with
// its raw encoding and the attributes a keystore interprets
// (friendlyName, localKeyId, Java's trust attribute); shrouded keys stay
// sealed until [Bag.DecryptKey], and what a reader of a large file
// rarely needs (the attribute list, the friendlyName's text, a key's
// encryption parameters) is decoded on first use from the bytes kept.
// [DecodeInPlace] is Decode on a buffer the caller gives up: the
// encrypted SafeContents are decrypted where they are in it, so that a
// reader holds a large file once and not its certificates again, and
// [Sealed.Reseal] gives the file's bytes back. [Encode] writes SafeContents of bags
// built with [NewCertBag], [NewShroudedKeyBag] and [WithAttrs], or kept
// as read, under an [EncParams] and a [MACParams]. The package knows
// nothing of aliases, chains or entries: package keystore builds those.
//
// # Algorithms
//
// Integrity: HMAC keyed through the PKCS #12 KDF with SHA-1, SHA-224,
// SHA-256, SHA-384, SHA-512, SHA-512/224 or SHA-512/256; PBMAC1 (RFC
// 9579); none. Privacy: PBES2 with PBKDF2 (the same PRFs) and AES-128,
// AES-192, AES-256 or DES-EDE3 in CBC mode; PKCS #12 PBE with three- and
// two-key triple DES and 40- and 128-bit RC2. RC4 and public-key modes
// (envelopedData, signedData) are refused as unsupported. RC2 (RFC 2268),
// the PKCS #12 KDF (RFC 7292 appendix B), PBKDF2 and the BER-to-DER
// normaliser are implemented here; the block ciphers and hashes are the
// standard library's.
//
// # Security
//
// Input is hostile until its MAC verifies, and the MAC is checked only
// after the file's structure has been read: so every length is checked
// against the input before it is used, every iteration count above
// [MaxIterations] (the JDK's limit) and a file's total above
// [MaxTotalIterations] are refused before any key is derived, nesting is
// bounded, and decoding n bytes allocates O(n). The MAC is computed on
// another goroutine while the SafeContents are decrypted and read (the
// work of both planned and budgeted before either starts), and its
// verdict is returned first; decrypting in place, a stretch of
// ciphertext is overwritten only once the MAC has hashed it, and a
// failed decode leaves the buffer as it was given. A shrouded key's parameters are read, and
// their limits checked, when the key is decrypted, as Java reads them. Iteration counts alone do
// not bound the work: a PBKDF2 keyLength multiplies it, and so do the
// derivations a scheme needs and the password forms tried. [Decode]
// therefore computes the work of all its derivations in hash blocks and
// refuses a file beyond [MaxWork] or [MaxKDFRuns] before deriving
// anything; every derivation is charged to the file's [Work] before it
// runs, and what is left serves the keys a reader decrypts while reading
// the file ([Bag.DecryptKeyWithin]). PBMAC1 keys shorter than
// 20 octets are refused (GHSA-mpwr-8vm7-h73f). MACs are compared with
// hmac.Equal. Errors never contain a password.
package pkcs12
