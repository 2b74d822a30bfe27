package keystore

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"io"
	"time"
)

// An Option changes how a store is read, changed or written. Options that
// do not apply to an operation are ignored by it.
type Option func(*options)

type options struct {
	keyPasswords map[string][]byte // folded alias -> key password
	clock        func() time.Time
	random       io.Reader
	create       bool
	backup       string
	anchors      []*x509.Certificate
	untrusted    bool
	newKey       crypto.Signer
	profile      *Profile // PKCS#12 encoder profile; nil keeps the store's

	// defaultKeyPassword is tried, after the store password, on keys of
	// aliases without a key password of their own.
	defaultKeyPassword []byte
	// overwrite lets Set, Replace and InstallReply overwrite any kind.
	overwrite bool
}

func buildOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// with returns a copy of o with opts applied.
func (o options) with(opts []Option) options {
	if len(opts) == 0 {
		return o
	}
	c := o
	if o.keyPasswords != nil {
		c.keyPasswords = make(map[string][]byte, len(o.keyPasswords))
		for k, v := range o.keyPasswords {
			c.keyPasswords[k] = v
		}
	}
	for _, f := range opts {
		f(&c)
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

// WithKeyPassword gives the password that protects the key entry under
// alias, for stores whose key passwords differ from the store password
// (keytool's -keypass). It is tried first to decrypt the key, and the
// store password after it, so one key password given for several aliases
// (as Spring's key-password is) still opens the keys that use the store
// password. When the entry is written anew, it encrypts the key. The
// store keeps a copy.
func WithKeyPassword(alias string, password []byte) Option {
	p := append([]byte(nil), password...)
	return func(o *options) {
		if o.keyPasswords == nil {
			o.keyPasswords = make(map[string][]byte)
		}
		o.keyPasswords[fold(alias)] = p
	}
}

// WithDefaultKeyPassword gives a key password for every alias that has
// none of its own ([WithKeyPassword]): such a key is tried with the store
// password first and then with this one. New keys are still encrypted
// with the store password (or their own key password). The store keeps a
// copy.
func WithDefaultKeyPassword(password []byte) Option {
	p := append([]byte{}, password...)
	return func(o *options) { o.defaultKeyPassword = p }
}

// OverwriteAnyKind lets [Store.Set], [Store.Replace] and
// [Store.InstallReply] overwrite an entry of a kind they otherwise refuse
// to overwrite: a [SecretKeyEntry], which they would turn into a key entry
// (the protected key is lost).
func OverwriteAnyKind() Option { return func(o *options) { o.overwrite = true } }

// WithClock sets the clock that dates new entries and checks validity.
// The default is time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithRand sets the source of the salts and IVs used when encrypting.
// The default is crypto/rand.Reader.
func WithRand(r io.Reader) Option { return func(o *options) { o.random = r } }

// CreateIfMissing lets [Store.Replace] create the key entry when the alias
// does not exist.
func CreateIfMissing() Option { return func(o *options) { o.create = true } }

// WithBackup makes [Store.Save] and [Update] keep the file being replaced
// as path+suffix (for example ".bak"), replacing any earlier backup.
func WithBackup(suffix string) Option { return func(o *options) { o.backup = suffix } }
