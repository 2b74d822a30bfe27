// Command downtime runs the renewal of a tenant client certificate for a
// receiver that accepts only one client certificate at a time: the flow
// is stopped for a window in which the tenant and the receiver swap, then
// restarted on every node. It runs on one machine over real TLS, with the
// runtime nodes' messages failing only inside the window.
//
//	go run ./examples/downtime [-format jks|pkcs12] [-nodes N] [-rate R] [-dir D]
//	                           [-runbook] [-skip-restart-node K] [-drain T] [-summary FILE]
//
// The flags are those of examples/overlap; the summary adds the window and
// the failures outside it (zero when all went well). With
// -skip-restart-node K node K is forgotten when the flow is restarted: it
// stays stopped, the gate after the restart names it, and the run stops
// there.
package main

import (
	"os"

	"github.com/certroll/certroll/examples/internal/demo"
	"github.com/certroll/certroll/renewal"
)

func main() {
	os.Exit(demo.Main(renewal.SequenceDowntime, os.Args[1:], os.Stdout, os.Stderr))
}
