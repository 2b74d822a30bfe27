// Package chain orders and completes certificate chains and decides, the way
// a TLS server does, whether a receiver accepts a client's chain, saying
// precisely why not.
//
// # Usage
//
// [Order] turns a bag of certificates (a PEM file in any order, with
// repeats) into a leaf-first path; [Complete] adds the intermediates a chain
// lacks from a pool, such as a truststore. [KeyMatches] checks that a
// certificate belongs to a key.
//
// A [Receiver] models the server side of mutual TLS: its trust anchors, the
// intermediates it holds, the client certificates it pins, the time and the
// usage it checks. [Receiver.Verify] returns the verified paths, each
// ending at its anchor, or a [*VerifyError] that lists every [Problem] with
// its certificate and sentinel error:
//
//	r := &chain.Receiver{Roots: roots}
//	if _, err := r.Verify(clientChain); err != nil {
//		var ve *chain.VerifyError
//		if errors.As(err, &ve) { for _, p := range ve.Problems { ... p.Err ... } }
//		if errors.Is(err, chain.ErrExpired) { ... }
//	}
//
// [Receiver.AcceptsAll] is the gate of an overlapping renewal (the receiver
// must accept the old and the new chain before the client switches), and
// [Receiver.Accepted] names the chains a client holds that the receiver
// accepts: two or more, and the client may present either.
//
// # Compatibility
//
// Path building and verification are crypto/x509's ([x509.Certificate.Verify]);
// the package adds diagnosis and policy on top and never accepts what
// crypto/x509 rejects. Tests check that a crypto/tls server configured from
// the same receiver reaches the same verdict in a real handshake, and run
// the C2SP x509-limbo test suite (see LIMBO.md in the source tree).
// Revocation (CRL, OCSP) is not checked.
//
// # Security
//
// A Receiver with no Roots trusts nothing; the system roots are never used.
// MD5 and SHA-1 signatures are always refused (crypto/x509 refuses them),
// and RSA keys under 2048 bits by default. Path search over hostile input is
// bounded in depth, steps and signature checks, so that [Complete] costs
// time linear in its pool whatever the pool holds.
package chain
