// Package temporal runs certificate renewals on Temporal
// (go.temporal.io/sdk), for a platform team that renews tens or hundreds
// of tenant client certificates at once, each waiting days for a CA's
// reply or a receiver's administrator: [RenewalWorkflow] runs one plan of
// package renewal step by step as activities, and [CampaignWorkflow] runs
// many as child workflows within limits. It is a Go module of its own
// (github.com/certroll/certroll/renewal/temporal), so that importing
// keystore or renewal never pulls the SDK.
//
// # Usage
//
// Build each plan once, outside the workflow, with [renewal.Build] (or
// `certroll plan --json`), and carry it in the workflow's [Input] with the
// names of the adapters its activities use. A worker holds the adapters by
// name in an [Activities]: the same [renewal.CA], [renewal.Receiver],
// [renewal.Runtime] and [renewal.Notifier] the executor runs against, and
// the tenant's stores ([TenantStores] of a [*renewal.Tenant], whose
// passwords stay on the worker):
//
//	acts := &temporal.Activities{
//		Tenants:   map[string]temporal.Stores{"tenant-a": temporal.TenantStores(&renewal.Tenant{Keystore: ks, Password: pw, Alias: "client"})},
//		CAs:       map[string]renewal.CA{"new-ca": &handoff.CA{Dir: "/srv/handover"}},
//		Receivers: map[string]renewal.Receiver{"rcv-1": rcv},
//		Runtimes:  map[string]renewal.Runtime{"rt-a": rt},
//		Notifiers: map[string]renewal.Notifier{"people": &local.Notifier{W: os.Stderr}},
//	}
//	w := worker.New(c, "certroll", worker.Options{})
//	w.RegisterWorkflow(temporal.RenewalWorkflow)
//	w.RegisterWorkflow(temporal.CampaignWorkflow)
//	w.RegisterActivity(acts)
//
//	c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "campaign-new-ca", TaskQueue: "certroll"},
//		temporal.CampaignWorkflow, temporal.Campaign{Name: "new-ca", Renewals: inputs,
//			MaxConcurrent: 10, MaxPerReceiver: 2, PauseAfter: 3})
//
// The command renewal/temporal/cmd/certroll-temporal is such a worker,
// with commands to start, signal, query and list campaigns.
//
// # The workflow is the journal
//
// There is no journal file: the workflow's history records each step's
// activity and its result, and a worker that replays it rebuilds where
// the renewal stands. [QueryStatus] returns that as a [Status], the data
// `certroll status` prints from a journal: each step's status, what the
// renewal waits for ([Waiting]: on whom, for what, which signal ends it,
// since when, overdue or not), and the gate that refused it.
//
// Each step is one activity, dispatched on the step's [renewal.StepID]
// as the executor dispatches it; each gate is a [Activities.CheckGate]
// activity, before or after its step. A gate that does not hold stops the
// renewal before its step: nothing destructive runs after it. With
// [Options.GateRetry] the renewal waits that long for [SignalRetry] and
// checks the gate again; otherwise it ends, failed, with
// [Status.RefusedBy]. Before it reports a renewal done,
// [Activities.VerifyEnd] checks the end state whatever the history says.
//
// # Waits
//
// Every wait is durable, so a renewal survives its workers for days:
//
//   - a hand-off listed in [Options.Confirm] waits for [SignalConfirm]
//     from the role it names (a confirmation that comes early is kept);
//   - a CA that answers later (package renewal/handoff's) makes step 1
//     wait for [SignalReply], telling the tenant administrator once where
//     the request is and where the reply goes;
//   - the downtime window's start, the drain of the old certificate
//     ([Options.Drain], checked again after each wait, at most ten drains)
//     and the nodes' 24-hour keystore cache ([Options.CacheWait], for a
//     runtime that lets the caches expire instead of restarting) are
//     timers.
//
// A wait with a timeout that passes is reported overdue and goes on: the
// renewal is waiting, not failed, and the status says for what and since
// when. A workflow cancelled while it waits ends with the cancellation
// (a cancelled timer is not an overdue wait).
//
// # Idempotence
//
// A worker can die before, during or after an activity; Temporal then
// retries the activity, on the same worker or another:
//
//   - a step whose activity completed is in the history and never runs
//     again;
//   - a step's changes ([Activities.SwapEntry], [Activities.StopFlow],
//     [Activities.ReceiverSwap], [Activities.RemoveOld], and the
//     receiver's and runtime's other steps) are made one at a time, each
//     recorded in a heartbeat once made. The SDK throttles heartbeats
//     (it holds them back for 80% of the heartbeat timeout, at most 60
//     seconds: here 60 s of the 2-minute timeout) and a process that dies
//     loses those not yet sent, so a retry may find none of an attempt's
//     changes recorded;
//   - the key swap and the nodes' changes are guarded by the state, not
//     by the heartbeats: each is asked of the state first on every
//     attempt (the live alias holds the new certificate and no key is
//     pending; what each node presents), so one made just before the
//     worker died is not made again;
//   - the receiver's changes are made again on every attempt after the
//     first, except those a heartbeat recorded done, as the executor's
//     resumed step makes every call: the command, nginx and HAProxy
//     receivers write their files and then reload, and a worker that died
//     between the two leaves files that say done while the server runs
//     the old configuration, which the next call reloads. Making a change
//     again is harmless by the [renewal.Receiver] contract ("Trusting a
//     root it already trusts is not an error", "Accepting it again is not
//     an error", "Removing one it does not accept is not an error",
//     "Removing a root it does not trust is not an error");
//   - on one worker a renewal's destructive activities hold a lock of the
//     renewal, so that an attempt retried after [Options.StepTimeout]
//     while the timed-out one still runs waits for it; across workers the
//     receivers' adapters lock their files (package
//     renewal/internal/trustfiles) and the checks above ask the state;
//   - step 1 reuses the staged key ([renewal.Tenant.Stage]) and a signed
//     one is not signed again; keys are made in the activity, never in
//     workflow code;
//   - errors a retry cannot put right ([renewal.ErrUnexpectedState], a
//     window that ended) are non-retryable.
//
// The crash tests end attempts before, during and after each destructive
// activity's changes, and with its heartbeats lost, and check that the
// key is swapped and each node stopped once and that the end state holds.
// A notifier's hand-off may be delivered twice if a worker dies after
// delivering it (at least once).
//
// # Campaigns
//
// [CampaignWorkflow] starts the renewals in the order listed, each as a
// child workflow with ID "<campaign ID>/<name>", while fewer than
// [Campaign.MaxConcurrent] run and fewer than [Campaign.MaxPerReceiver]
// run against the renewal's receiver ([Input.Group], or its
// Adapters.Receiver). Once more than [Campaign.PauseAfter] renewals are
// refused by a gate it starts no more (those running go on) until
// [SignalResume]. A refusal counts once per renewal, as soon as it is
// known: when the renewal ends refused, or when it starts waiting
// [Options.GateRetry] for [SignalRetry]. A resume while not paused
// changes nothing; [Report.Resumes] lists every resume and whether it
// ended a pause. Cancelling the campaign stops new starts: the renewals
// running go on to their end (they run on a context the campaign's
// cancellation does not reach; cancel one on its own to stop it), and
// the report says [Report.Cancelled]. A renewal's input with its plan is about 8 KB, and
// Temporal caps a payload at 2 MB by default: give a campaign of more
// than a hundred renewals their [Input.Compact] form (the plan's
// sequence and parameters, about 0.8 KB), from which each workflow builds
// the same plan. [QueryReport] returns a [Report]: the counts, who is
// waited for, which gate refused which renewals by name, as JSON or
// [Report.Markdown]. Children tell the campaign when they start and stop
// waiting, so the report needs no query of its own to each.
//
// # Determinism
//
// Workflow code uses only workflow.Now and timers for time, ranges over
// no map, and makes no key: the plan is built once and carried in the
// input, rebuilt in the workflow only by the pure [renewal.Build].
//
// # Compatibility
//
// The names of the workflows, activities, signals and queries, and the
// JSON of [Input], [Campaign], [Status] and [Report], are what a running
// cluster's histories hold: they are kept across releases, and a change
// to the workflows' code that would replay differently is versioned.
//
// A [renewal.Prober] receiver is asked by a handshake wherever the
// executor asks it (the gates that it accepts a chain, after the old
// certificate and root are removed, the end state), with the keys from
// the tenant's stores ([Stores.KeyFor]); a key the stores cannot give is
// a problem of the gate, never a pass. What this package does not do that the executor
// does: check chains declared in use outside the live keystore before
// the old root goes (the executor's InUse; the live keystore's other key
// entries are checked), write hand-over files, and roll back. The renewal package keeps
// those behind its executor's journal; see the module's README.
//
// # Security
//
// The workflow's input and history hold plans, fingerprints and
// certificates (PEM), never a key or a password: the private keys stay
// in the tenant's stores on the worker's machine, and the passwords in
// the worker's [Stores]. Anyone who can signal a workflow can say a role
// confirmed a hand-off, so protect the Temporal namespace as the runbook's
// readers are; a confirmation never replaces a gate.
package temporal
