package renewal

// Capabilities says what the receiver can do during a renewal. The zero
// Capabilities claims nothing, and [Choose] then picks the downtime
// sequence: assuming a capability the receiver lacks would break traffic
// in the middle of the overlap sequence, while not using one only costs a
// downtime window.
type Capabilities struct {
	// MultipleClientCertificates is true if the receiver accepts more than
	// one client certificate for the same caller at the same time, for
	// example by mapping both the old and the new certificate to the same
	// technical user.
	MultipleClientCertificates bool `json:"multiple_client_certificates"`
	// MultipleRoots is true if the receiver trusts more than one root CA
	// for client authentication at the same time, so that the new root can
	// be added before the old one is removed.
	MultipleRoots bool `json:"multiple_roots"`
}

// Choose returns the sequence for a receiver with capabilities c:
// [SequenceOverlap] if the receiver accepts several client certificates at
// once and trusts several roots at once, [SequenceDowntime] otherwise.
//
// Both capabilities are needed because the new certificate is signed by a
// different CA: between overlap steps 3 and 9 the receiver must accept the
// old certificate, which chains to the old root, and the new one, which
// chains to the new root. A receiver that accepts two certificates but
// trusts only one root cannot do that, nor can one that trusts two roots
// but maps only one certificate to the caller.
func Choose(c Capabilities) Sequence {
	if c.MultipleClientCertificates && c.MultipleRoots {
		return SequenceOverlap
	}
	return SequenceDowntime
}
