package truststore

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/certroll/certroll/keystore"
)

// maxSlug bounds the subject part of a derived alias, so that aliases stay
// readable in keytool's listing and usable as file names everywhere.
const maxSlug = 48

// aliasFor returns the alias [Set.Merge] gives c when the caller gives
// none: the first eight hexadecimal digits of the SHA-256 fingerprint, a
// hyphen, and the subject's common name (or, lacking one, its first
// organizational unit or organization) in lower case, with every run of
// characters other than ASCII letters and digits turned into one hyphen and
// cut to 48 characters: "1a2b3c4d-new-root-ca". A subject without such a
// name gives "1a2b3c4d-certificate".
func aliasFor(c *x509.Certificate) string {
	return deriveAlias(c, keystore.CertFingerprint(c))
}

func deriveAlias(c *x509.Certificate, sum keystore.Fingerprint) string {
	prefix := hex.EncodeToString(sum[:4])
	name := c.Subject.CommonName
	if name == "" && len(c.Subject.OrganizationalUnit) > 0 {
		name = c.Subject.OrganizationalUnit[0]
	}
	if name == "" && len(c.Subject.Organization) > 0 {
		name = c.Subject.Organization[0]
	}
	slug := slugify(name)
	if slug == "" {
		slug = "certificate"
	}
	return prefix + "-" + slug
}

func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= maxSlug {
				break
			}
			continue
		}
		dash = true
	}
	return b.String()
}

// checkAlias reports whether alias may name a certificate of a set of kind k.
func checkAlias(k Kind, alias string) error {
	if alias == "" {
		return fmt.Errorf("%w: the alias is empty", ErrInvalidAlias)
	}
	if len(alias) > 0xFFFF {
		return fmt.Errorf("%w: the alias is %d bytes long; at most 65535 fit", ErrInvalidAlias, len(alias))
	}
	for _, r := range alias {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%w: %q contains the character %U; want printable characters", ErrInvalidAlias, alias, r)
		}
	}
	if k == Directory {
		if strings.ContainsAny(alias, `/\:`) || alias[0] == '.' || alias != strings.TrimSpace(alias) {
			return fmt.Errorf("%w: %q cannot name a file in a directory: want no '/', '\\' or ':', no leading '.' and no surrounding spaces", ErrInvalidAlias, alias)
		}
	}
	return nil
}

// taken says why alias (compared ignoring case) cannot name a new
// certificate, or "" if it can.
func (s *Set) taken(alias string) string {
	f := fold(alias)
	if e, ok := s.byAlias[f]; ok {
		return fmt.Sprintf("alias %q is taken by %s", e.alias, describe(e.cert))
	}
	return s.reserved[f]
}

// isTaken reports whether the folded alias f is taken, without building
// the reason: allocate probes many candidates and needs one reason only.
func (s *Set) isTaken(f string) bool {
	if _, ok := s.byAlias[f]; ok {
		return true
	}
	_, ok := s.reserved[f]
	return ok
}

// allocate returns the alias under which a new certificate is stored:
// want if it is free, else want with "-2", "-3", ... appended, and the reason want was
// not used.
//
// The suffix to try next is remembered per wanted alias, so that adding
// N certificates that all want one alias (a bundle of N copies of one
// certificate, or N blocks under one "# alias:" line) probes O(N)
// candidates in all rather than O(N²). The memory is valid while aliases
// are only added: a candidate below it was taken and stays taken; remove
// clears it.
func (s *Set) allocate(want string) (alias, why string) {
	why = s.taken(want)
	if why == "" {
		return want, ""
	}
	return s.free(want), why
}

// free returns want if it is free, else the first of want-2, want-3, ...
// that is, as allocate does, without saying why want was taken.
func (s *Set) free(want string) string {
	fw := fold(want)
	if !s.isTaken(fw) {
		return want
	}
	n := s.next[fw]
	if n < 2 {
		n = 2
	}
	for ; ; n++ {
		cand := want + "-" + strconv.Itoa(n)
		if !s.isTaken(fold(cand)) {
			if s.next == nil {
				s.next = make(map[string]int)
			}
			s.next[fw] = n
			return cand
		}
	}
}
