// Package renewal describes the renewal of a TLS client certificate by one
// signed by a different CA as a plan: data that people follow as a runbook
// and that a program can run step by step.
//
// The plans follow SAP's procedure "Renewal of Tenant Client Root
// Certificate (CA)" (the reference), which has two sequences:
//
//   - [SequenceOverlap], 9 steps, for a receiver that accepts the old and the new
//     client certificate at the same time. Traffic never stops.
//   - [SequenceDowntime], 12 steps, for a receiver that accepts one client
//     certificate at a time. The integration flow is stopped inside an
//     agreed window. The reference's sequence has 11 steps and leaves the
//     old root trusted; step 12 is the overlap sequence's removal of it,
//     with its gate, so that both sequences end with one trusted root.
//
// [Sequence] says which receiver needs which sequence. Every step has
// the reference's number and role (tenant administrator, receiver
// administrator, integration developer), a [Kind] (action, hand-off, gate,
// wait), a stable [StepID], and the detail a person needs: which alias,
// which keystore, which fingerprints, which nodes. Steps that replace or
// remove what a running system depends on are marked destructive, and
// [Gate] checks are attached where a mistake would break traffic:
//
//   - overlap, before the tenant replaces the key entry (step 5): the
//     receiver accepts both the old and the new chain;
//   - after the flow is restarted (overlap 7, downtime 11): every runtime
//     node presents the new certificate, and a failure names the others;
//   - before the old certificate and root are removed (overlap 9, downtime
//     12): no node presents the old certificate, nothing declared in use
//     chains to the old root, and a receiver that reports the handshakes
//     it sees ([UsageObserver]) has seen none with the old certificate for
//     [Executor.Drain]: the executor waits for that, saying until when
//     ([EventGateWaiting]), so that requests still in flight are not cut
//     off, and fails the gate when the certificate is still seen after
//     ten drain periods (a client still uses it);
//   - downtime, after the receiver exchanges the certificate (step 8): the
//     receiver accepts the new chain.
//
// # Usage
//
// Build a plan from [Params] and render it:
//
//	plan, err := renewal.Build(renewal.SequenceOverlap, renewal.Params{
//		Alias:              "tenant-client",
//		Keystore:           "/srv/tenant/client.p12",
//		Nodes:              []string{"node-a", "node-b"},
//		OldFingerprint:     oldSHA256,
//		NewRootSubject:     "CN=New Root CA,O=Example",
//		NewRootFingerprint: newRootSHA256,
//		OldRootSubject:     "CN=Old Root CA,O=Example",
//		OldRootFingerprint: oldRootSHA256,
//	})
//	if err != nil {
//		return err // one *PlanError per problem, joined
//	}
//	os.WriteFile("runbook.md", []byte(plan.Markdown()), 0o644)
//	diagram := plan.Mermaid()        // a Mermaid sequenceDiagram
//	data, err := json.Marshal(plan) // schema in SCHEMA.md
//
// The [Sequence] may be chosen at run time, from what the receiver can do.
// The error reports every problem of the parameters at once, as
// [*PlanError] values that match [ErrInvalidParam].
//
// Building and rendering are pure: no files are read, no clock or
// randomness is used, and the same parameters give byte-identical output.
// The new certificate's fingerprint is not known before step 1 has run;
// leave [Params.NewFingerprint] empty, and build the plan again with it
// once known: the steps and their IDs stay the same, the details gain the
// fingerprint.
//
// An executor runs a plan by dispatching on [Step.ID] (one action per
// [StepID], the same in both sequences) and on [Gate.Kind] (one check per
// [GateKind]), checking a gate with [Gate.When] [GateBefore] before its step
// and one with [GateAfter] after it, and recording [Step.Destructive] steps
// so that none runs twice.
//
// # Running a plan
//
// [Executor] runs a plan against a [CA], a [Receiver], a [Runtime] and a
// [Notifier] that the caller implements (package renewal/local has
// embedded ones that run everything on one machine over real TLS):
//
//	x := &renewal.Executor{
//		Plan:     plan,
//		Tenant:   &renewal.Tenant{Keystore: "/srv/tenant/client.p12", Password: pw, Alias: "tenant-client"},
//		Journal:  "/srv/tenant/renewal.journal",
//		CA:       ca, Receiver: receiver, Runtime: runtime, Notifier: notifier,
//	}
//	res, err := x.Run(ctx)
//	if errors.Is(err, renewal.ErrGateFailed) {
//		// nothing destructive ran after the gate; err names the stragglers
//		// or the chains that still need the old root
//	}
//
// The tenant side keeps three stores: the new key waits in a staging store
// with a self-signed placeholder until the CA's reply is installed;
// activation moves the old entry to a history store and the new one under
// the live alias in one atomic save; [Executor.Rollback] reverses it. Every
// step is recorded in the journal before and after it acts, so a run
// killed at any point and started again does only what is left;
// [Executor.DryRun] checks the gates it can and says what would happen,
// touching nothing.
//
// Nothing read back is trusted blindly. The executor runs only a plan
// that is what [Build] gives for the plan's own sequence and parameters;
// on every resume it checks the journal against that plan (sequence,
// alias, keystore, steps, and each recorded certificate against the
// plan's fingerprints, the new certificate signed up to the new root)
// and refuses a mismatch with a [*JournalError] naming the field. Before
// a run reports done, it checks the end state itself, whatever the
// journal says: the live alias holds the new certificate, every node
// presents it, the receiver accepts the new chain and neither accepts the
// old certificate nor trusts the old root (for a receiver that implements
// [Prober], a handshake with the new chain succeeds and one with the old
// chain fails); a difference is an [*EndStateError], and the journal
// records the run as failed.
//
// # Resuming, dry runs and rollback
//
// Run again after an interruption (a kill, a cancelled context, a failed
// gate put right) with the same [Executor.Journal]: steps the journal
// records as done are skipped, a step recorded as started has its state
// checked before it acts again, and a destructive step whose action
// completed only has its gate checked again. [ReadJournal] reads the
// journal for a status display, as the [Result] a run returns; its
// [Result.Step] records say, per step, the status, the attempts and what
// the action did. [Executor.DryRun] returns the [Result] of what the next
// run would do ([StepRecord.Would]), evaluating every gate condition it
// can without writing anything (not even the journal). [Executor.Rollback]
// puts the old entry back under the live alias, refusing while the
// receiver no longer accepts the old chain ([ErrRollbackUnsafe]).
//
// # The two-phase renewal
//
// When the CA does not answer at once (a request goes out today, the
// signed certificate comes back next week), give the executor a [CA]
// that hands the request over, such as package renewal/handoff's: its
// Sign writes the request into a hand-over folder and returns an
// [*AwaitingReplyError]. The run then stops cleanly, with step 1 and the
// run [StatusWaiting] (not failed), the notifier tells the tenant
// administrator once where the request is and where the reply goes, and
// Run returns that error (matching [ErrAwaitingReply]). Each later run
// with the same journal reuses the staged key (no key is made twice) and
// installs the reply once it has arrived, checked against that key, or
// says again that it is waiting. A downtime window that opens later stops
// the run the same way at the window's step (downtime step 2), after its
// hand-off and before anything stops traffic: the step and the run are
// [StatusWaiting], the error matches [ErrAwaitingReply] and says when the
// window opens, and a run once it is open goes on without sending the
// hand-off again. Or drive the tenant's stores with [Tenant] directly:
//
//	t := &renewal.Tenant{Keystore: "/srv/tenant/client.p12", Password: pw, Alias: "tenant-client"}
//	live, _ := t.LiveChain()
//	p, err := t.Stage(live[0]) // a new key in the staging store
//	// send p.CSRPEM (p.CSR is the same request, parsed) to the CA
//
//	// next week, in another process:
//	_, err = t.Install(reply, newRoot) // onto the staged key
//	p, _ = t.Pending()
//	a, err := t.Activate(live[0], p.Chain[0])
//	fmt.Println(a) // alias "tenant-client" now holds …; history alias …
//
// Each call is safe to repeat: Stage reuses a staged key, Install of the
// same reply changes nothing, and Activate finishes the bookkeeping of an
// activation that was interrupted. [Pending], [Activation], [Result]
// and the other values a run returns print as one readable
// line with %v, and never print a key or password.
//
// The package's Examples cover the main flows: a plan and its runbook
// ([Build], [Plan.Markdown]), a run against the embedded defaults of
// renewal/local ([Executor]), a dry run ([Executor.DryRun]), a resumed
// run, and the two-phase renewal by hand ([Tenant]).
//
// # Compatibility
//
// Step numbers, roles and order are the reference's and do not change.
// [StepID], [GateKind] and the JSON names of roles, kinds and sequences are
// stable; new ones may be added. Titles, details and sub-tasks are prose
// for people and may be reworded in any release: programs must branch on
// IDs and kinds, never on text. The JSON form is versioned by
// schema_version ([Plan.SchemaVersion]); SCHEMA.md describes it, and a change
// that would make a reader misread a plan increments the version.
//
// The reference gives downtime step 2 ("agree on a downtime window") to
// both administrators; the plan gives it to the tenant administrator as a
// [KindWait] step with the receiver administrator in [Step.To]. The
// reference's reverse-proxy example ([ReceiverProfile]) says its tasks
// belong to "step 2"; they describe the receiver's configuration, which is
// overlap step 3 and downtime step 8, and the plans attach them there.
//
// # Security
//
// A plan contains no secrets: fingerprints, subjects, aliases, paths and
// node names only. It tells people what to change, so its text is
// guarded: parameters with control characters, line or paragraph
// separators, bidirectional formatting characters or invalid UTF-8 are
// refused (not escaped), so that a value reads the same in the runbook as
// in the tool that printed it. The Markdown renderer prints values as code
// spans and escapes prose, and the Mermaid renderer uses entity codes, so
// that no text can add a checklist item, a heading, HTML, a link whose text
// differs from its target, or a diagram statement. (GitHub's Markdown still
// shows a bare URL or e-mail address in prose as a link to itself.)
//
// Fingerprints are printed in full, in keytool's form, so that each person
// can check the certificates they receive against the runbook rather than
// trusting the channel they came by.
//
// [Plan.UnmarshalJSON] refuses unknown schema versions, unknown fields and
// malformed plans, but a well-formed plan from a file is still only as
// trustworthy as the file. A program that runs a plan it has read should
// rebuild it with [Build] from its Sequence and Params and run the rebuilt
// plan, so that destructive markings and gates come from this package.
//
// Gates are only as good as the checks behind them: the descriptions say
// what must hold, and the executor (not this package's builders) verifies
// it. A receiver's confirmation in a hand-off step does not replace its
// gate.
package renewal
