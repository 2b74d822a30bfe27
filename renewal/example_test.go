package renewal_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/certroll/certroll/renewal"
)

// params returns the parameters the examples share. The fingerprints are
// made up; real ones come from `keytool -list -v` or
// `openssl x509 -noout -fingerprint -sha256`.
func params() renewal.Params {
	return renewal.Params{
		Alias:              "tenant-client",
		Keystore:           "/srv/tenant/client.p12",
		Nodes:              []string{"node-a", "node-b"},
		OldFingerprint:     strings.Repeat("a1", 32),
		OldRootSubject:     "CN=Old Root CA,O=Example",
		OldRootFingerprint: strings.Repeat("b2", 32),
		NewRootSubject:     "CN=New Root CA,O=Example",
		NewRootFingerprint: strings.Repeat("c3", 32),
		Window:             renewal.Window{Description: "Saturday 22:00-02:00 UTC"},
	}
}

func ExampleBuild_overlap() {
	plan, err := renewal.Build(renewal.SequenceOverlap, params())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range plan.Steps {
		fmt.Printf("%d. %s: %s\n", s.Number, s.Role, s.Title)
	}
	// Output:
	// 1. tenant administrator: Create a new key pair and get its certificate signed by the new CA
	// 2. tenant administrator: Give the receiver administrator the new client certificate and the new root certificate
	// 3. receiver administrator: Configure the receiver to accept both the old and the new client certificate
	// 4. receiver administrator: Tell the tenant administrator that the receiver accepts both certificates
	// 5. tenant administrator: Replace the key pair and certificate in the client keystore, keeping the alias
	// 6. tenant administrator: Tell the integration developer that the integration flow can be restarted
	// 7. integration developer: Restart the integration flow on every runtime node
	// 8. tenant administrator: Tell the receiver administrator that the new client certificate is in use
	// 9. receiver administrator: Remove the old client certificate and the old root certificate
}

// An executor dispatches on step IDs and gate kinds, never on text.
func ExampleBuild_downtime() {
	plan, err := renewal.Build(renewal.SequenceDowntime, params())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range plan.Steps {
		line := fmt.Sprintf("%2d %-22s %-9s", s.Number, s.ID, s.Kind)
		if s.Destructive {
			line += " destructive"
		}
		if s.Gate != nil {
			line += fmt.Sprintf(" gate %s: %s", s.Gate.When, s.Gate.Kind)
		}
		fmt.Println(strings.TrimRight(line, " "))
	}
	// Output:
	//  1 generate-key           action
	//  2 agree-window           wait
	//  3 notify-stop            hand-off
	//  4 stop-flow              action    destructive
	//  5 confirm-stopped        hand-off
	//  6 swap-entry             action    destructive
	//  7 hand-over-certificate  hand-off
	//  8 receiver-swap          action    destructive gate after: receiver accepts the new chain
	//  9 confirm-swapped        hand-off
	// 10 notify-restart         hand-off
	// 11 restart-nodes          action    gate after: every node presents the new certificate
	// 12 remove-old             action    destructive gate before: old certificate and old root unused
}

func ExampleBuild_invalidParams() {
	p := params()
	p.Nodes = nil
	p.OldFingerprint = "12:34"
	_, err := renewal.Build(renewal.SequenceOverlap, p)
	fmt.Println(errors.Is(err, renewal.ErrInvalidParam))
	fmt.Println(err)
	// Output:
	// true
	// renewal: invalid parameter OldFingerprint "12:34": expected a SHA-256 fingerprint as 32 colon-separated hex pairs, found 2 groups
	// renewal: missing parameter Nodes: at least one runtime node is needed: the flow must be restarted on every node
}

func ExamplePlan_Mermaid() {
	plan, err := renewal.Build(renewal.SequenceOverlap, params())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan.Mermaid())
	// Output:
	// sequenceDiagram
	//     participant Developer as integration developer
	//     participant Tenant as tenant administrator
	//     participant Receiver as receiver administrator
	//     Note over Tenant: 1. Create a new key pair and get its certificate signed by the new CA
	//     Tenant->>Receiver: 2. Give the receiver administrator the new client certificate and the new root certificate
	//     Note over Receiver: 3. Configure the receiver to accept both the old and the new client certificate
	//     Receiver->>Tenant: 4. Tell the tenant administrator that the receiver accepts both certificates
	//     Note over Tenant: gate before step 5: receiver accepts the old and the new chain
	//     Note over Tenant: 5. Replace the key pair and certificate in the client keystore, keeping the alias (destructive)
	//     Tenant->>Developer: 6. Tell the integration developer that the integration flow can be restarted
	//     Note over Developer: 7. Restart the integration flow on every runtime node
	//     Note over Developer: gate after step 7: every node presents the new certificate
	//     Tenant->>Receiver: 8. Tell the receiver administrator that the new client certificate is in use
	//     Note over Receiver: gate before step 9: old certificate and old root unused
	//     Note over Receiver: 9. Remove the old client certificate and the old root certificate (destructive)
}

// A plan read from a file is rebuilt from its parameters before it is run,
// so that destructive markings and gates come from this package.
func ExamplePlan_UnmarshalJSON() {
	plan, err := renewal.Build(renewal.SequenceOverlap, params())
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := json.Marshal(plan)
	if err != nil {
		fmt.Println(err)
		return
	}

	var read renewal.Plan
	if err := json.Unmarshal(data, &read); err != nil {
		fmt.Println(err)
		return
	}
	run, err := renewal.Build(read.Sequence, read.Params)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.Sequence, len(run.Steps), "steps")

	err = json.Unmarshal([]byte(`{"schema_version": 2}`), &read)
	fmt.Println(errors.Is(err, renewal.ErrInvalidPlan))
	// Output:
	// overlap 9 steps
	// true
}

func ExamplePlan_Markdown() {
	p := params()
	p.Receiver = &renewal.ReceiverProfile{Proxy: "SAP Web Dispatcher", Backend: "AS ABAP"}
	plan, err := renewal.Build(renewal.SequenceOverlap, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Print the outline: headings and checklist items.
	for _, line := range strings.Split(plan.Markdown(), "\n") {
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "- [ ]") {
			fmt.Println(line)
		}
	}
	// Output:
	// # Certificate renewal runbook: overlap sequence
	// ## Parameters
	// ## Order of steps
	// ## Tenant administrator
	// - [ ] 1. Create a new key pair and get its certificate signed by the new CA
	// - [ ] 2. Give the receiver administrator the new client certificate and the new root certificate
	// - [ ] 5. Replace the key pair and certificate in the client keystore, keeping the alias
	// - [ ] 6. Tell the integration developer that the integration flow can be restarted
	// - [ ] 8. Tell the receiver administrator that the new client certificate is in use
	// ## Receiver administrator
	// - [ ] 3. Configure the receiver to accept both the old and the new client certificate
	// - [ ] 4. Tell the tenant administrator that the receiver accepts both certificates
	// - [ ] 9. Remove the old client certificate and the old root certificate
	// ## Integration developer
	// - [ ] 7. Restart the integration flow on every runtime node
}
