package keystore

import (
	"bytes"
	"io"

	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// Writing a store read from a PKCS#12 file with a few entries changed,
// without building the chains of the others: their certificate bags are
// written as read, in file order, and only what changed is encoded.

// maxAsReadChanges bounds the entries changed, added or removed for which
// encodeAsRead writes the file from the bags read: the new certificate
// bags are compared with the others one by one.
const maxAsReadChanges = 16

// encodeAsRead writes s as encode does, from the bags read in file order,
// when the chains of the untouched entries are not needed to tell which
// certificates they keep: ok is false when it cannot (chains built
// already, bags that are not keys or certificates, entries hidden by a
// later alias, many changes, a new or changed trusted entry, or a new
// certificate whose subject one read has), and encode takes its general
// path. The certificates are in file order, those of changed
// entries after them; keytool and OpenSSL pair keys and certificates by
// localKeyId and build chains by name, whatever the order.
func (c *pkcs12Codec) encodeAsRead(s *Store, password []byte, prof Profile, rnd io.Reader, ids *localKeyIDs) ([]byte, bool, error) {
	l := c.lazy
	if l == nil || c.explicit {
		return nil, false, nil
	}
	for _, b := range l.bags {
		if !pkcs12KeyBag(b) && b.Cert() == nil {
			return nil, false, nil
		}
	}
	for i := range l.recs {
		p := l.entry(i)
		if p.hidden {
			return nil, false, nil
		}
		p.r.native.(*pkcs12Native).live = false
	}
	fresh := 0
	var trustedAt map[int32]*record // an untouched trusted entry's certificate -> its record
	for _, r := range s.recs {
		if !c.untouched(r) {
			// A trusted entry's place among the certificates is its place
			// in the listing: a new one goes where the general path puts it.
			if fresh++; fresh > maxAsReadChanges || r.kind == TrustedEntry {
				return nil, false, nil
			}
			continue
		}
		n := r.native.(*pkcs12Native)
		n.live = true
		if r.kind == TrustedEntry {
			if trustedAt == nil {
				trustedAt = map[int32]*record{}
			}
			trustedAt[n.idx()[0]] = r
		}
	}
	// gone: the certificates of the entries read that the store no
	// longer holds as read, each mapped to whether an untouched entry's
	// chain runs through it.
	ix := l.ix
	gone := map[int32]bool{}
	removed := 0
	for i := range l.recs {
		p := l.entry(i)
		n := p.r.native.(*pkcs12Native)
		if n.live {
			continue
		}
		if removed++; removed > maxAsReadChanges {
			return nil, false, nil
		}
		if n.chainLen() == 0 && n.leaf >= 0 {
			n.buildChain(p.r)
		}
		for _, ci := range n.idx() {
			gone[ci] = false
		}
	}
	if len(gone) > 0 {
		c.markGone(gone)
	}
	for _, r := range s.recs {
		if c.untouched(r) {
			continue
		}
		for _, der := range r.ders() {
			if !c.fitsAsRead(der, gone) {
				return nil, false, nil
			}
		}
	}

	w := &bagWriter{keys: make([][]byte, 0, len(s.recs)), certs: make([][]byte, 0, len(ix.certs)+4*fresh), trustedAsRead: map[*p12.Bag]bool{}}
	for ci := range ix.certs {
		b := ix.certs[ci].bag
		if inUse, ok := gone[int32(ci)]; ok && !inUse {
			continue
		}
		switch r := trustedAt[int32(ci)]; {
		case r != nil:
			w.trustedAsRead[b] = true
			w.certs = append(w.certs, c.named(r, b))
		case b.JavaTrust:
			// A removed or changed trusted entry's certificate in an
			// untouched chain: without the entry's name and trust.
			w.certs = append(w.certs, p12.NewCertBag(b.Cert(), p12.Attrs{}))
		default:
			w.certs = append(w.certs, b.Raw)
		}
	}
	ids.asRead = func(yield func(id []byte)) {
		for ci := range ix.certs {
			if inUse, ok := gone[int32(ci)]; (!ok || inUse) && ix.certs[ci].bag.LocalKeyID() != nil {
				yield(ix.certs[ci].bag.LocalKeyID())
			}
		}
		for i := range l.recs {
			p := l.entry(i)
			if n := p.r.native.(*pkcs12Native); n.live && n.key != nil && n.key.LocalKeyID() != nil {
				yield(n.key.LocalKeyID())
			}
		}
	}
	for _, r := range s.recs {
		if c.untouched(r) {
			if r.kind == KeyEntry {
				kb, _, err := c.keyBag(s, r, r.native.(*pkcs12Native), password, prof, rnd, ids)
				if err != nil {
					return nil, true, err
				}
				w.keys = append(w.keys, kb)
			}
			continue
		}
		if err := c.encodeRecord(s, r, w, password, prof, rnd, ids); err != nil {
			return nil, true, err
		}
	}
	out, err := p12.Encode(w.spec(password, rnd, prof))
	if err != nil {
		return nil, true, pkcs12Error(err)
	}
	return out, true, nil
}

// markGone sets gone[ci] for each certificate of a removed or changed
// entry that an untouched entry's chain runs through. The untouched
// chains are followed in scratch space and not kept: that costs a
// lookup by subject per certificate, not the chains' blocks, and the
// sorting of the bags that are not entries (resolve).
func (c *pkcs12Codec) markGone(gone map[int32]bool) {
	l := c.lazy
	l.ix.readNames()
	mark := func(chain []int32) {
		for _, ci := range chain {
			if _, ok := gone[ci]; ok {
				gone[ci] = true
			}
		}
	}
	for i := range l.recs {
		p := l.entry(i)
		n := p.r.native.(*pkcs12Native)
		switch {
		case !n.live:
		case n.chainLen() > 0:
			mark(n.idx())
		case n.leaf >= 0:
			l.scratch = buildChain(n.leaf, l.ix.names, l.ix.bySubject, l.scratch)
			mark(l.scratch)
		}
	}
}

// fitsAsRead reports whether a changed entry's certificate der, written
// after the bags kept as read, leaves every chain as it was read: the
// certificates written as read with its subject, if any, are der (a key
// entry's chain and a trusted entry may hold it in two bags). Otherwise
// the chains built by name (ours, Java's) could pick another
// certificate with the subject than before.
func (c *pkcs12Codec) fitsAsRead(der []byte, gone map[int32]bool) bool {
	_, sub, _, err := p12.CertNames(der)
	if err != nil {
		return false
	}
	ix := c.lazy.ix
	ix.readNames()
	for ci := ix.bySubject.first(sub); ci >= 0; ci = ix.bySubject.next[ci] {
		if inUse, ok := gone[ci]; (ok && !inUse) || !bytes.Equal(ix.names[ci].subject, sub) {
			continue
		}
		if !bytes.Equal(ix.certs[ci].bag.Cert(), der) {
			return false
		}
	}
	return true
}
