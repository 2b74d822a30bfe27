package main

import (
	"reflect"
	"strings"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/certroll/certroll/truststore"
)

// plainErr is an error's message without the library's package prefixes
// ("renewal: ", "keystore: ", …), which mean nothing to the person reading
// it. The error chain is rendered, not the final string edited: each
// error's message is its own words with its wrapped errors' messages in
// their places, and only where an error's own words begin with a library
// package's prefix, and the error is the library's, is the prefix dropped.
// A path, an alias or a quoted value that reads "keystore: " is never an
// error's own beginning, so it is kept.
func plainErr(err error) string {
	if err == nil {
		return ""
	}
	return renderErr(err)
}

// renderErr renders err: its own words, with each wrapped error rendered
// where its message stands in err's.
func renderErr(err error) string {
	msg := err.Error()
	var b strings.Builder
	pos := 0
	for _, k := range unwrapped(err) {
		km := k.Error()
		if km == "" {
			continue
		}
		i := strings.Index(msg[pos:], km)
		if i < 0 {
			continue
		}
		own := msg[pos : pos+i]
		if pos == 0 {
			own = dropPrefix(err, own, true)
		}
		b.WriteString(own)
		b.WriteString(renderErr(k))
		pos += i + len(km)
	}
	rest := msg[pos:]
	if pos == 0 {
		rest = dropPrefix(err, rest, false)
	}
	b.WriteString(rest)
	return b.String()
}

// dropPrefix drops a library package's prefix from the start of err's own
// words (before its first wrapped error, or all of them), if err is the
// library's: one of its types or sentinels, or a wrapper whose own words
// say more than the prefix (a command's "PATH: %w" with a file named
// "keystore" keeps it).
func dropPrefix(err error, own string, wraps bool) string {
	pkg, rest, ok := strings.Cut(own, ": ")
	if !ok || !libPackages[pkg] {
		return own
	}
	switch {
	case libraryType(err), librarySentinel(err):
		return rest
	case wraps && rest != "" && libraryBelow(err):
		return rest
	}
	return own
}

// unwrapped returns the errors err wraps, one or several.
func unwrapped(err error) []error {
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			return []error{w}
		}
	}
	return nil
}

// libraryType reports whether err's type is one of the library's.
func libraryType(err error) bool {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.HasPrefix(t.PkgPath(), "github.com/certroll/certroll/")
}

// librarySentinel reports whether err is one of the library's sentinels.
func librarySentinel(err error) bool {
	for _, s := range sentinels {
		if err == s {
			return true
		}
	}
	return false
}

// libraryBelow reports whether an error err wraps is the library's.
func libraryBelow(err error) bool {
	for _, k := range unwrapped(err) {
		if libraryType(k) || librarySentinel(k) || libraryBelow(k) {
			return true
		}
	}
	return false
}

// libPackages are the library packages whose prefix a message may start
// with.
var libPackages = map[string]bool{
	"renewal": true, "handoff": true, "keystore": true, "truststore": true, "chain": true,
	"local": true, "probe": true, "nginx": true, "haproxy": true, "command": true,
	"java": true, "pkcs12": true, "jks": true,
}

// sentinels are the library's sentinel errors the command may see.
var sentinels = []error{
	keystore.ErrIncorrectPassword, keystore.ErrMalformed, keystore.ErrUnsupportedFormat,
	keystore.ErrAliasNotFound, keystore.ErrAliasExists, keystore.ErrNotKeyEntry,
	keystore.ErrInvalidFingerprint, keystore.ErrUntrustedReply, keystore.ErrPasswordEncoding,
	keystore.ErrCorruptKey, keystore.ErrUnsupportedCertificate, keystore.ErrLimit, keystore.ErrUnsupportedKey,
	truststore.ErrNotFound, truststore.ErrInUse, truststore.ErrInvalidAlias, truststore.ErrUsageUndeclared,
	chain.ErrNoCertificates, chain.ErrTooMany, chain.ErrLoop, chain.ErrSeveralLeaves, chain.ErrUnplaced,
	chain.ErrBrokenChain, chain.ErrMissingIssuer, chain.ErrUnknownAuthority, chain.ErrIncompleteChain,
	chain.ErrExpired, chain.ErrNotYetValid, chain.ErrUsage, chain.ErrBadSignature, chain.ErrWeakSignature,
	chain.ErrWeakKey, chain.ErrNotPinned, chain.ErrKeyMismatch, chain.ErrConstraint, chain.ErrRejected,
	renewal.ErrInvalidParam, renewal.ErrInvalidPlan, renewal.ErrGateFailed, renewal.ErrJournal,
	renewal.ErrJournalLocked, renewal.ErrUnexpectedState, renewal.ErrRollbackUnsafe,
	renewal.ErrAwaitingReply, renewal.ErrOutsideWindow,
	local.ErrNotAccepted, local.ErrNodeStopped,
	probe.ErrHandshake, probe.ErrNotRequested, probe.ErrStatus, probe.ErrNotAdvertised,
	probe.ErrExchange, probe.ErrInvalid,
}
