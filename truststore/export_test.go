package truststore

// DeriveAlias lets the external tests check the aliases Merge derives.
var DeriveAlias = aliasFor

// IsCA lets the external tests check which certificates Merge takes as CAs.
var IsCA = isCA

// SelectorText lets the external tests check how reports describe a
// selection.
func SelectorText(sel Selector) string { return sel.desc }
