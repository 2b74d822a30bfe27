// Package keystore reads, edits and writes Java keystores: JKS files and
// PKCS#12 files (.p12, .pfx), as keytool and Java's KeyStore classes read
// and write them, so that a Go program can renew the client certificate
// of a Java application without keytool.
//
// # Usage
//
// A [Store] is an in-memory keystore: entries addressed by alias. [Open]
// reads a file (the format is sniffed), [Parse] reads bytes, [New] makes
// an empty store; [Store.Save] writes a file atomically and
// [Store.Marshal] returns its bytes. An entry ([Entry]) is a key entry (a
// private key and its certificate chain, leaf first), a trusted
// certificate, or a secret key that is kept as it was read
// ([SecretKeyEntry]). [Store.WriteListing] lists a store as `keytool -list
// -v` does, and [Store.Summaries] gives the same as data.
//
// To change a file that other processes may change too, use [Update]: it
// locks the file, opens it, lets a function change the store, checks that
// the result reads back and replaces the file atomically. [Store.Replace]
// puts a new key and chain under an alias in place; [Store.InstallReply]
// installs a CA's reply, as `keytool -importcert` onto a key alias does,
// ordering and completing the chain and checking that it reaches a trust
// anchor.
//
// Renewing with a new key pair takes two steps, often days apart: today
// [GenerateKey] makes the new key and [RenewalCSR] the certificate request
// (with the subject and names of the current certificate); the key waits
// in a pending store, a key entry whose certificate is the [Placeholder]
// keytool would make. When the CA's reply arrives ([ParseCertificates]
// reads PEM, DER, PKCS#7 and PkiPath), [Store.InstallReply] with
// [ReplyOptions.NewKey] installs it with that key under the live alias.
// The examples show both steps.
//
// Every operation that has options takes them as a struct of its own, nil
// meaning the documented zero value: [StoreOptions] for [New], [Parse] and
// [Open] (kept by the store: key passwords, clock and randomness),
// [SaveOptions], [UpdateOptions], [SetOptions], [ReplaceOptions] and
// [ReplyOptions]. An option does not compile where it does not apply.
//
// # Aliases
//
// Aliases follow Java's rules. Lookups ignore case ("Client" finds
// "client"); an entry read from a file keeps its alias as written; a new
// entry is stored under its alias lower-cased, as Java's keystores store
// it; an entry that is overwritten or replaced keeps the alias it had.
// When a file holds the same alias twice, the last entry wins, as in Java;
// a PKCS#12 file keeps the hidden one and writes it back. An alias must
// not be empty and is at most 65,535 bytes.
//
// # Reading JKS
//
// A JKS file is checked against its integrity digest (SHA-1 over the
// password, the words "Mighty Aphrodite" and the contents, as the JDK
// computes it) before anything is read, and every length and count is
// checked against the input. Certificates are parsed and keys decrypted
// on first use, so opening a large store costs little. Keys are protected
// as the JDK's KeyProtector protects them; passwords are hashed as
// UTF-16 characters, as in Java's char[]. An entry that was not changed
// is written back byte for byte, in the order of the file; a version 1
// file is written as version 2. A key entry without certificates is a
// [SecretKeyEntry]; JCEKS sealed secret keys (tag 3) are refused, as the
// JDK's JKS reader refuses them.
//
// # Reading PKCS#12
//
// A PKCS#12 file is read as Java's PKCS12KeyStore reads it, and as
// keytool lists it:
//   - A key entry is a key bag (pkcs8ShroudedKeyBag or keyBag) and its
//     certificate chain. The leaf is the certificate bag with the key's
//     localKeyId; without one, the certificate holding the key's public key
//     (the key is then decrypted while the file is read, if the password
//     allows). The chain continues by issuer name through every
//     certificate in the file, preferring the certificate that follows,
//     as the writer of a chain puts it there.
//   - The alias is the key bag's friendlyName (a trailing NUL dropped). A
//     key or trusted certificate without one is named "1", "2", ... in
//     file order, as Java names it.
//   - A certificate carrying Java's trust attribute (OID
//     2.16.840.1.113894.746875.1.1) is a trusted-certificate entry.
//   - Certificates that belong to no key and carry no trust attribute are
//     kept and reported by [Store.OtherCertificates]; CRL bags, secret
//     bags, bag types the package does not know and entries hidden by a
//     later entry with the same alias are kept as they are and reported by
//     [Store.keptBags]. All are written back on save.
//   - PKCS#12 has no creation date. Java stores it in the localKeyId
//     ("Time 1795667156962", milliseconds since 1970) and restores it from
//     there; so does this package. Otherwise an entry is dated when the
//     file is read (the store's clock), as Java dates it.
//   - Unlike Java, which ignores them, unencrypted keyBags (as OpenSSL
//     writes with -keypbe NONE) are read as key entries.
//
// A store read from a file and saved unchanged with the same password is
// written back byte for byte. Otherwise it is written with the [Profile]
// it was read with, unless [Store.SetProfile] picks another; a new store
// uses [Modern].
//
// # Compatibility
//
// The files written open with keytool and Java's KeyStore (JKS: every
// Java; PKCS#12: as [Profile.ReadableBy] says for each profile), OpenSSL
// and go-pkcs12; the tests check this against the real keytool, openssl
// and a Java TLS client. Keys of type RSA, ECDSA (P-256, P-384, P-521) and
// Ed25519 are read and written; an entry whose key or certificate Go
// cannot use (DSA, secp256k1, binary curves) still lists, is written back
// unchanged, and can be replaced ([ReplyOptions.NewKey], [Store.Set]).
// JCEKS, BKS and UBER files are recognised and refused with the command
// that converts them ([ErrUnsupportedFormat]); a PEM or PKCS#7
// certificate bundle given as a keystore is recognised as one.
//
// Java's PKCS12KeyStore derives keys only from printable ASCII
// passwords: use ASCII passwords for stores Java reads.
//
// # Security
//
// Input is untrusted: every parser here is fuzzed, lengths are checked
// against the input before anything is allocated, and key-derivation work
// is bounded ([ErrLimit]), so a hostile file costs at most about a second.
// A wrong password and a tampered file cannot be told apart
// ([ErrIncorrectPassword]), as with the JDK. Passwords are []byte, copied
// by the store, and never appear in errors; errors name aliases and key
// fingerprints instead.
//
// JKS protects keys with SHA-1-based obfuscation only, and the [Legacy]
// PKCS#12 profile with 3DES and SHA-1: prefer [Modern] unless the reader
// needs otherwise. The [Passwordless] profile protects nothing but the
// keys: keep such files where only trusted people can write.
//
// A Store is not safe for concurrent use. [Update], [Store.Save] and
// [LockFile] take an advisory lock (path+".lock") that every certroll
// process respects; keytool and other programs ignore it. A new file is
// created 0600; an existing one keeps its mode, owner and group.
package keystore
