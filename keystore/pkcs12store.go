package keystore

// What a PKCS#12 store's file holds besides its entries: the certificates
// of no entry (Store.OtherCertificates) and the bags kept and written back
// (keptBags, which the listing names).

import (
	"crypto/x509"
	"fmt"
	"strconv"

	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// OtherCertificates returns the certificates the store's file holds that
// belong to no entry: not in any key entry's chain and without Java's
// trust attribute (keytool does not list them). They are kept and
// written back. A certificate Go cannot parse gives an error naming it.
func (s *Store) OtherCertificates() ([]*x509.Certificate, error) {
	c, ok := s.codec.(*pkcs12Codec)
	if !ok {
		return nil, nil
	}
	c.resolve()
	var out []*x509.Certificate
	n := 0
	for _, b := range c.kept {
		if !c.orphan[b] {
			continue
		}
		n++
		cert, err := x509.ParseCertificate(b.Cert())
		if err != nil {
			return nil, fmt.Errorf("keystore: PKCS#12 other certificate %d (%s): %w", n, pkcs12BagName(b), err)
		}
		out = append(out, cert)
	}
	return out, nil
}

// keptBag describes a PKCS#12 bag that is not an entry but is kept and
// written back: a certificate of no entry, a CRL, a secret, a bag of a
// type the package does not know, or an entry hidden by a later one with
// the same alias.
type keptBag struct {
	Type string // "certBag", "crlBag", "secretBag", "pkcs8ShroudedKeyBag", ... or the bag type's OID
	Name string // the friendlyName, if any
}

// keptBags lists the bags the store keeps besides its entries, in file
// order. It is empty for a store that is not PKCS#12.
func (s *Store) keptBags() []keptBag { return s.kept(false) }

// kept lists the kept bags, without the certificates of no entry if
// notOther is set (those are [Store.OtherCertificates]).
func (s *Store) kept(notOther bool) []keptBag {
	c, ok := s.codec.(*pkcs12Codec)
	if !ok {
		return nil
	}
	c.resolve()
	out := make([]keptBag, 0, len(c.kept))
	for _, b := range c.kept {
		if notOther && c.orphan[b] {
			continue
		}
		t := b.Type.String()
		if b.Type == p12.OtherBag {
			t = p12.OIDString(b.TypeOID())
		}
		out = append(out, keptBag{Type: t, Name: b.FriendlyName()})
	}
	return out
}

func pkcs12BagName(b *p12.Bag) string {
	if b.HasFriendlyName() {
		return strconv.Quote(b.FriendlyName())
	}
	return "unnamed"
}
