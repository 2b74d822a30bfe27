// Package java is a [renewal.Runtime] whose nodes are real JVM processes:
// each runs Node.java, a small HTTPS client shipped with this package
// (and embedded in it), that behaves as an integration runtime's client
// does during a certificate renewal.
//
// A node loads the keystore once, when it starts, builds its SSLContext
// from it with Java's default key manager
// (KeyManagerFactory.getDefaultAlgorithm(), SunX509 on JDK 17) and keeps
// that context until the process ends: a certificate replaced in the
// keystore file is presented only after [Runtime.Restart], as the real
// runtime caches its keystore for 24 hours. The default key manager picks
// the key entry whose chain is issued by one of the CA names the server
// advertises in its CertificateRequest, and presents no certificate when
// none is; so a receiver that trusts the new root but still advertises only
// the old root's name (HAProxy 2.6 after "set ssl ca-file" through its
// runtime API) makes a node holding only the new certificate fail its
// handshakes, which curl and Go clients do not show.
//
// # Usage
//
// Give the runtime the tenant's keystore, its password, the receiver's URL
// and the root of the receiver's server certificate, then start the nodes:
//
//	rt, err := java.New(java.Config{
//		Nodes:            3,
//		Keystore:         "/srv/tenant/client.jks",
//		KeystorePassword: password,
//		URL:              "https://receiver.example:8443/health",
//		ServerRoots:      []*x509.Certificate{serverRoot},
//		Rate:             20,
//	})
//	if err != nil { ... }
//	defer rt.Close()
//	if err := rt.StartAll(ctx); err != nil { ... }
//
// and hand rt to the executor as its Runtime. [Runtime.Stats] counts each
// node's requests and failures and the order of the certificates it
// presented. Node.java can also be run by hand (JDK 17, no build step):
//
//	read -rs STOREPASS
//	{ printf '%s\n\n' "$(printf %s "$STOREPASS" | base64 -w0)"; cat; } |
//	  java Node.java --keystore client.jks --trust server-root.pem \
//	    --url https://receiver.example:8443/health --rate 5 --name node-1
//
// The first line is the keystore password, the empty second line says the
// key password is the same; cat keeps standard input open, and Ctrl-D ends
// the node. It prints one JSON line a request, with the SHA-256 of the
// certificate it presented and the CA names the server advertised.
// [Runtime.Instructions] prints these lines, with the runtime's own files,
// URL and options, under the restart step of a runbook:
// plan.Markdown(ca, receiver, rt).
//
// # Compatibility
//
// Node.java needs JDK 17 or later ("java File.java" runs a single source
// file without a build step); Debian and Ubuntu: apt-get install -y
// openjdk-17-jdk-headless. A node takes seconds to start (the source is
// compiled at each start); [Runtime.Start] waits for the node's ready line,
// up to [Config.StartTimeout]. The keystore is JKS or PKCS#12, told apart by
// content; every key entry must be protected by the key password (SunX509
// takes one password for all of them), and JDK 17 opens a PKCS#12 keystore
// only with an ASCII password ("Password is not ASCII"), a JKS with any.
//
// # Security
//
// The passwords reach the JVM on its standard input, base64-encoded, never
// on its command line or in a file; the Go side keeps copies in memory for
// later starts and never puts them in an error. Closing standard input stops
// a node, so a node whose parent process dies stops too. A node verifies the
// receiver's server certificate and host name against [Config.ServerRoots]
// (or the JDK's cacerts when none are given).
package java
