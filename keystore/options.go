package keystore

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"io"
	"time"
)

// Options come in one struct per operation, as crypto/x509's
// VerifyOptions: an option that does not apply to an operation does not
// compile there, and a nil pointer means every field's zero value. Only
// [StoreOptions] outlive the call: the store keeps them for its life.

// StoreOptions configure a store for its whole life: they are given to
// [New], [Parse], [Open] and [Update] (through [UpdateOptions]), and the
// store keeps a copy, used by every later call on it. A nil
// *StoreOptions, like the zero value, means: every key is protected by
// the store password, time.Now dates new entries, crypto/rand supplies
// salts and IVs. (A PKCS#12 store's profile is chosen with
// [Store.SetProfile].)
type StoreOptions struct {
	// KeyPasswords gives, by alias (compared ignoring case), the password
	// of key entries whose key password differs from the store password
	// (keytool's -keypass). Such a key is tried with its own password
	// first and the store password after it, so one key password given
	// for several aliases (as Spring's key-password is) still opens the
	// keys that use the store password. A new key under the alias is
	// encrypted with it, except one that takes the place of a key read
	// from the file (Set, Replace, InstallReply): that one is encrypted
	// with the password the old key was found under, so the programs that
	// read the store find it where they found the old one. The store
	// copies the map and the passwords.
	KeyPasswords map[string][]byte

	// DefaultKeyPassword is tried, after the store password, on the key of
	// every alias that has no password in KeyPasswords. A key found under
	// it is written back under it, and so is a key that takes its place;
	// other new keys are encrypted with the store password (or their own
	// key password). Nil means none; the store keeps a copy.
	DefaultKeyPassword []byte

	// Now is the clock that dates new entries (and PKCS#12 entries read
	// without a date). Nil means time.Now.
	Now func() time.Time

	// Rand is the source of the salts and IVs used when encrypting. Nil
	// means crypto/rand.Reader.
	Rand io.Reader
}

// SaveOptions change how [Store.Save] and [Store.SaveLocked] write a
// file. A nil *SaveOptions means the zero value: no backup.
type SaveOptions struct {
	// Backup, if not empty, keeps the file being replaced as path+Backup
	// (for example ".bak"), with the file's mode and owner, replacing any
	// earlier backup.
	Backup string
}

// UpdateOptions change how [Update] reads and writes a file. A nil
// *UpdateOptions means the zero value: the store is opened with no
// [StoreOptions], a missing file is an error, and no backup is kept.
type UpdateOptions struct {
	// StoreOptions configure the store that is opened and passed to fn.
	StoreOptions

	// SaveOptions say how the file is written (a backup of it, say).
	SaveOptions

	// Create, if it is [JKS] or [PKCS12], lets Update create a missing
	// file: fn is given a new, empty store of that format, and the file
	// is written as a new file is ([Store.Save]). The check that the file
	// is missing and the write happen under the file's lock, so two
	// processes creating the same store do not race. The zero Format
	// makes a missing file an error.
	Create Format
}

// SetOptions change what [Store.Set] overwrites. A nil *SetOptions means
// the zero value.
type SetOptions struct {
	// OverwriteAnyKind lets Set overwrite a [SecretKeyEntry], which it
	// otherwise refuses to turn into another entry ([ErrNotKeyEntry]): the
	// protected key is lost.
	OverwriteAnyKind bool
}

// ReplaceOptions change what [Store.Replace] does. A nil *ReplaceOptions
// means the zero value.
type ReplaceOptions struct {
	// Create lets Replace create the key entry when the alias does not
	// exist; the previous entry it returns is then nil. Without it a
	// missing alias is [ErrAliasNotFound].
	Create bool

	// OverwriteAnyKind lets Replace overwrite a [SecretKeyEntry], as
	// [SetOptions.OverwriteAnyKind] does for [Store.Set].
	OverwriteAnyKind bool
}

// ReplyOptions change how [Store.InstallReply] installs a CA's reply. A
// nil *ReplyOptions means the zero value: the reply must be for the
// entry's own key and reach one of the store's trusted entries.
type ReplyOptions struct {
	// NewKey, if not nil, is the private key the reply's certificate
	// request was made with: it replaces the entry's key, the step that
	// renews a certificate with a new key pair while keeping the alias.
	// The entry is then replaced without reading it, so an entry whose key
	// or certificate Go cannot read can still be renewed.
	NewKey crypto.Signer

	// Anchors are trust anchors (and intermediates) used besides the
	// store's own trusted-certificate entries, as keytool's -trustcacerts
	// adds the JDK's cacerts.
	Anchors []*x509.Certificate

	// AllowUntrusted installs a reply that reaches no trust anchor
	// (keytool asks "Trust this certificate?" there). Without it such a
	// reply is [ErrUntrustedReply].
	AllowUntrusted bool

	// OverwriteAnyKind lets InstallReply overwrite a [SecretKeyEntry], as
	// [SetOptions.OverwriteAnyKind] does for [Store.Set].
	OverwriteAnyKind bool
}

// options is what a store keeps of its [StoreOptions].
type options struct {
	keyPasswords       map[string][]byte // folded alias -> key password
	defaultKeyPassword []byte
	clock              func() time.Time
	random             io.Reader
}

// storeOptions copies o (nil is the zero value) into what a store keeps.
func storeOptions(o *StoreOptions) options {
	if o == nil {
		return options{}
	}
	c := options{clock: o.Now, random: o.Rand}
	if o.DefaultKeyPassword != nil {
		c.defaultKeyPassword = append([]byte{}, o.DefaultKeyPassword...)
	}
	if len(o.KeyPasswords) > 0 {
		c.keyPasswords = make(map[string][]byte, len(o.KeyPasswords))
		for alias, pw := range o.KeyPasswords {
			c.keyPasswords[fold(alias)] = bytes.Clone(pw) // nil stays nil: PKCS#12 tells it from ""
		}
	}
	return c
}

func (o options) now() time.Time {
	if o.clock != nil {
		return o.clock()
	}
	return time.Now()
}

func (o options) rand() io.Reader {
	if o.random != nil {
		return o.random
	}
	return rand.Reader
}
