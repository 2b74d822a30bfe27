// Package local provides embedded defaults for the interfaces a renewal
// runs against ([renewal.CA], [renewal.Receiver], [renewal.Runtime] and
// [renewal.Notifier]), so that the examples and tests can run a whole
// renewal of a tenant client certificate on one machine, over real TLS:
//
//   - [CA] signs the new client certificate with a root of its own: the
//     "other CA".
//   - [Receiver] keeps the receiver's configuration in files (a truststore
//     of roots, JKS by default, and a PEM list of accepted client
//     certificates, the certificate-to-technical-user mapping) and serves
//     HTTPS on 127.0.0.1, requiring a client certificate and rereading the
//     files when they change. [Receiver.Probe] asks that server by a real
//     handshake ([renewal.Prober]), and [Receiver.AdvertiseOnly] makes it
//     reproduce HAProxy's runtime-API failure.
//   - [Runtime] runs N nodes whose HTTPS clients read the tenant keystore
//     when they start and cache it until restarted, as the runtime's SSL
//     socket caches the keystore for 24 hours, and choose the certificate
//     they present as Java's default key manager does; while a renewal proceeds,
//     [Runtime.Run] sends traffic from every node and [Runtime.Stats]
//     counts every message that fell due: sent, failed, or skipped by a
//     node that fell behind its schedule.
//   - [Notifier] prints the hand-offs between the roles.
//
// # Usage
//
// Build the landscape a renewal starts from, then let the executor (or a
// test) drive the renewal while traffic flows:
//
//	oldCA, _ := local.NewCA(local.CAConfig{Name: "Old Root CA"})
//	// kept in a directory, so that a run started again finds the same root:
//	newCA, _ := local.NewCA(local.CAConfig{Name: "New Root CA", Dir: filepath.Join(dir, "new-ca")})
//
//	rcv, _ := local.NewReceiver(local.ReceiverConfig{
//		Truststore:         filepath.Join(dir, "receiver-truststore.jks"),
//		TruststorePassword: []byte("changeit"),
//		Accepted:           filepath.Join(dir, "accepted-clients.pem"),
//	})
//	_, _ = rcv.Start() // HTTPS on 127.0.0.1; Start returns the URL
//	defer rcv.Close()
//	// trust the old root, accept the old client certificate
//	_ = rcv.TrustRoot(ctx, oldCA.Root())
//	_ = rcv.AcceptClient(ctx, oldChain)
//
//	rt, _ := local.NewRuntime(local.RuntimeConfig{
//		Nodes: 3, Keystore: tenantKeystore, KeystorePassword: pw, Alias: "client",
//		Receiver: rcv, Rate: 100,
//	})
//	_ = rt.StartAll(ctx)
//	trafficCtx, stopTraffic := context.WithCancel(ctx)
//	done := make(chan local.Stats)
//	go func() { done <- rt.Run(trafficCtx) }()
//
//	// ... run the renewal against newCA, rcv, rt and &local.Notifier{W: os.Stdout} ...
//
//	stopTraffic()
//	stats := <-done // stats.Failed is 0 after a correct overlap renewal
//
// The package's Example does the overlap renewal's steps by hand against
// these defaults; the renewal package's Executor example runs the same
// renewal with its executor, and examples/overlap runs it with traffic.
// [Stats], [Failure] and [CA] print as readable lines with %v; none prints
// a password or key.
//
// # Advertised names
//
// A Java client presents only a certificate whose issuer the server names
// in its CertificateRequest, and so do the nodes of [Runtime]: a receiver
// that verifies a new root but does not advertise it fails every node that
// holds only the new certificate. The receiver advertises every root it
// trusts, unless told otherwise; to show the failure HAProxy 2.6 causes
// when a root is added through its runtime API, and what the probe gate
// makes of it:
//
//	_ = rcv.TrustRoot(ctx, newCA.Root())
//	_ = rcv.AcceptClient(ctx, newChain)
//	_ = rcv.AdvertiseOnly(oldCA.Root()) // trusts both, names only the old root
//	err := rcv.Accepts(ctx, newChain)    // nil: the files accept it
//	err = rcv.Probe(ctx, newChain, newKey)
//	// probe.ErrNotAdvertised: "the server advertises CN=Old Root CA but not CN=New Root CA ..."
//	// a node restarted with only the new certificate sends none: its messages
//	// fail with local.ErrNoCertificate
//	_ = rcv.AdvertiseOnly() // advertise every trusted root again, as a reload does
//	err = rcv.Probe(ctx, newChain, newKey) // nil; the node succeeds, not restarted
//
// [Runtime.SkipRestart] leaves one node on its cached certificate when it
// is restarted, to show that a renewal's check that every node presents the
// new certificate catches a forgotten node. Messages due while a node is
// stopped count as failed ([ErrNodeStopped]), so the downtime of the
// downtime sequence shows in the statistics.
//
// # Compatibility
//
// The receiver's truststore ([ReceiverConfig.TruststoreKind]) is a JKS or
// PKCS#12 keystore read and written with package keystore, so keytool can list and edit it (keytool does not
// take the advisory lock the receiver's edits take, so do not edit it with
// keytool while a renewal runs), or a PEM bundle as OpenSSL reads it. Only
// trusted-certificate entries are trust anchors; key entries in a
// truststore are ignored. The accepted list is a PEM file of CERTIFICATE
// blocks; text between blocks and lines starting with '#' are ignored,
// and the receiver writes a comment naming each certificate. The tenant
// keystore may be JKS or PKCS#12.
//
// The HTTPS server and the nodes speak TLS 1.2 and 1.3 through crypto/tls.
// A node's choice of certificate follows SunX509, the default of
// ssl.KeyManagerFactory.algorithm in JDK 17: among the key entries of the
// keystore it loaded, one whose chain has an issuer among the advertised
// names (compared as DER, else as case-insensitive RFC 4514 strings), any
// when the server advertises none, the configured alias first; it does
// not, as SunX509 also does, filter by key type. It is the rule package
// renewal/probe applies, which does not export it.
// Whether a client is accepted is decided by [chain.Receiver] (the chain
// to a trusted root for clientAuth, the accepted list as its pinned
// certificates, and its key-size policy), for the server's handshakes and
// for [Receiver.Accepts] alike, with the same inputs, so the verdict of
// Accepts is the verdict of the next handshake. The server records which
// client certificate each handshake presented, accepted or not
// ([Receiver.LastSeen], a [renewal.UsageObserver]), so that the executor's
// gate can wait for requests still in flight with the old certificate
// before removing it.
//
// # Security
//
// These are test and demonstration defaults, not a server to expose: the
// receiver listens on 127.0.0.1 only, the CAs keep their keys in memory
// (or, with [CAConfig.Dir], unencrypted in a 0600 file there, so use a
// directory only you can read), and nothing is logged beyond what the
// caller asks for (the HTTPS server's own errors are discarded). Keys
// and TLS take their randomness from crypto/rand. The receiver
// fails closed: if its files cannot be read (a wrong password, a damaged
// file) every handshake is refused until they can be read again. It
// disables session tickets and keep-alives, so a removed certificate or
// root stops being accepted at the next request rather than when a cached
// session or a kept-alive connection ends. Passwords are copied when a
// receiver or runtime is made and never appear in errors.
package local
