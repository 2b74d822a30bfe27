package keystore

// Test helpers that ask a Store what its exported API answers in longer
// form (Certificates, Aliases), without decrypting anything.

// hasAlias reports whether an entry of s has the alias, ignoring case.
func hasAlias(s *Store, alias string) bool { return s.find(alias) >= 0 }

// allEntries returns copies of every entry of s, in store order, as a
// caller gets them with Aliases and Entry; it fails on the first entry
// that cannot be read.
func allEntries(s *Store) ([]*Entry, error) {
	out := make([]*Entry, 0, len(s.recs))
	for _, a := range s.Aliases() {
		e, err := s.Entry(a)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
