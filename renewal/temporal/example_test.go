package temporal_test

import (
	"fmt"
	"time"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/temporal"
)

// A campaign's report, as `certroll-temporal status CAMPAIGN` prints it.
func ExampleReport_Markdown() {
	since := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	rep := &temporal.Report{
		Name: "new-ca-2026", Updated: since.Add(72 * time.Hour), Total: 4,
		Counts:  map[string]int{"done": 2, "waiting": 1, "refused": 1},
		Waiting: []temporal.WaitingOn{{Role: renewal.ReceiverAdmin, Renewals: []string{"tenant-c"}}},
		Refused: []temporal.Refusal{{Gate: renewal.GateReceiverAcceptsBoth, Renewals: []string{"tenant-d"}}},
		Renewals: []temporal.Entry{
			{Name: "tenant-a", Receiver: "rcv-1", State: renewal.StatusDone},
			{Name: "tenant-b", Receiver: "rcv-1", State: renewal.StatusDone},
			{Name: "tenant-c", Receiver: "rcv-2", State: renewal.StatusWaiting, Waiting: &temporal.Waiting{
				Step: 4, ID: renewal.StepConfirmAcceptBoth, On: renewal.ReceiverAdmin, For: "a confirmation", Since: since, Overdue: true}},
			{Name: "tenant-d", Receiver: "rcv-2", State: temporal.StateRefused, Gate: renewal.GateReceiverAcceptsBoth,
				Error: "gate receiver_accepts_both does not hold: the receiver refuses the new chain"},
		},
	}
	fmt.Print(rep.Markdown())
	// Output:
	// # Campaign `new-ca-2026`
	//
	// 4 renewals, as of 2026-03-05T09:00:00Z.
	//
	// | state | renewals |
	// |---|---|
	// | done | 2 |
	// | running | 0 |
	// | waiting | 1 |
	// | refused | 1 |
	// | failed | 0 |
	// | pending | 0 |
	//
	// ## Waiting
	//
	// - on the receiver administrator (1): `tenant-c`
	//
	// ## Refused by a gate
	//
	// - `receiver_accepts_both`, receiver accepts the old and the new chain (1): `tenant-d`
	//
	// ## Not done
	//
	// | renewal | receiver | state | detail |
	// |---|---|---|---|
	// | `tenant-c` | `rcv-2` | waiting | step 4 (confirm-accept-both): waiting for a confirmation since 2026-03-02T09:00:00Z (overdue) |
	// | `tenant-d` | `rcv-2` | refused | gate receiver\_accepts\_both does not hold: the receiver refuses the new chain |
}
