// Command overlap runs the renewal of a tenant client certificate for a
// receiver that accepts the old and the new certificate at the same time,
// on one machine over real TLS, with traffic flowing throughout.
//
//	go run ./examples/overlap [-format jks|pkcs12] [-nodes N] [-rate R] [-dir D]
//	                          [-runbook] [-skip-restart-node K] [-drain T] [-summary FILE]
//
// It builds an old CA and a new CA, a tenant keystore whose alias the old
// CA signed, the receiver's truststore and HTTPS server (which requires
// client certificates), and N runtime nodes that send requests
// continuously and cache their TLS configuration until restarted. It
// prints the runbook, runs the nine steps showing each step's role, and
// ends with a summary: requests sent, failed and skipped (a node that
// falls behind its schedule skips requests, and the summary shows the
// rate achieved next to the one asked for), fingerprints before and
// after, files written. Before the old certificate and root are removed
// the run waits until the receiver has seen no handshake with the old
// certificate for -drain (500ms), so that requests still on the way from
// nodes just restarted are not refused.
//
// With -dir the files stay; a run interrupted (Ctrl-C, a kill, even
// during the set-up) and started again with the same -dir resumes from
// its journal without repeating a destructive step. A -dir made by
// another run (the other sequence, another -format or -nodes) is refused,
// naming what differs. With -skip-restart-node K node K keeps its
// cached configuration: the gate before the old root's removal stops the
// run, names node K, and the old root stays trusted.
package main

import (
	"os"

	"github.com/certroll/certroll/examples/internal/demo"
	"github.com/certroll/certroll/renewal"
)

func main() {
	os.Exit(demo.Main(renewal.SequenceOverlap, os.Args[1:], os.Stdout, os.Stderr))
}
