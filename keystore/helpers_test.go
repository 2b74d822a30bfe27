package keystore

// Test helpers that ask a Store what its exported API answers in longer
// form (Certificates, Aliases), without decrypting anything.

// hasAlias reports whether an entry of s has the alias, ignoring case.
func hasAlias(s *Store, alias string) bool { return s.find(alias) >= 0 }
