package renewal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// laterCA is a CA that answers later: Sign says it is waiting until
// replied is set, as a hand-off CA does before the reply is in its folder.
type laterCA struct {
	*fakeCA
	dir     string
	replied bool
	keys    []keystore.Fingerprint // the key of each request, in order
}

func (c *laterCA) Sign(ctx context.Context, csrPEM []byte) ([]*x509.Certificate, error) {
	csr, err := keystore.ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	c.keys = append(c.keys, keystore.KeyFingerprint(csr.PublicKey))
	if !c.replied {
		c.log.add("ca.Waiting")
		return nil, &AwaitingReplyError{Request: filepath.Join(c.dir, "request.csr"), Reply: filepath.Join(c.dir, "reply.pem")}
	}
	return c.fakeCA.Sign(ctx, csrPEM)
}

func TestRunWaitsForTheCA(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceOverlap)
	ca := &laterCA{fakeCA: f.ca, dir: f.dir}
	f.exec.CA = ca

	var staged []keystore.Fingerprint
	for run := 1; run <= 3; run++ {
		f.events = nil
		res, err := f.exec.Run(ctx)
		require.ErrorIs(t, err, ErrAwaitingReply, "run %d", run)
		assert.NotErrorIs(t, err, ErrGateFailed)
		var w *AwaitingReplyError
		require.ErrorAs(t, err, &w)
		assert.Equal(t, filepath.Join(f.dir, "reply.pem"), w.Reply)
		assert.Contains(t, err.Error(), `waiting for the CA's reply: put it at "`+w.Reply+`"`)

		assert.Equal(t, StatusWaiting, res.State, "run %d", run)
		rec := res.Step(StepGenerateKey)
		assert.Equal(t, StatusWaiting, rec.Status)
		assert.Equal(t, run, rec.Attempts)
		assert.Empty(t, rec.Error, "waiting is not a failure")
		assert.Contains(t, rec.Note, w.Reply)
		assert.Equal(t, StatusPending, res.Step(StepHandOverCertificate).Status)
		assert.Equal(t, []string{"step started generate-key", "step waiting generate-key"}, f.eventKinds())
		assert.Contains(t, f.events[1].Message, w.Reply)

		// The journal records it; ReadJournal reads it back.
		jr, err := ReadJournal(f.exec.Journal)
		require.NoError(t, err)
		assert.Equal(t, StatusWaiting, jr.State)
		assert.Equal(t, StatusWaiting, jr.Step(StepGenerateKey).Status)

		p, err := f.tenant.Pending()
		require.NoError(t, err)
		require.NotNil(t, p)
		staged = append(staged, keystore.KeyFingerprint(p.Key.Public()))
	}
	assert.Equal(t, staged[0], staged[1], "no key is generated twice")
	assert.Equal(t, staged[0], staged[2], "no key is generated twice")
	assert.Equal(t, []keystore.Fingerprint{staged[0], staged[0], staged[0]}, ca.keys, "every request is for the staged key")

	// The tenant administrator is told once where the reply goes.
	assert.Equal(t, 1, f.calls.count("notify 1 generate-key"))
	assert.Contains(t, f.nt.messages[StepGenerateKey], "put it at")
	// Nothing else happened: the live keystore is as it was, the receiver
	// was not touched.
	live, err := os.ReadFile(f.tenant.Keystore)
	require.NoError(t, err)
	assert.True(t, sameBytes(f.liveBefore, live))
	assert.Equal(t, []string{"ca.Waiting", "notify 1 generate-key", "ca.Waiting", "ca.Waiting"}, f.mutations())

	// A dry run of a waiting journal says what a run would do.
	d, err := f.exec.DryRun(ctx)
	require.NoError(t, err)
	assert.Equal(t, StatusWaiting, d.Step(StepGenerateKey).Status)
	assert.Contains(t, d.Step(StepGenerateKey).Would, "pending")

	// The reply arrives: the next run installs it on the staged key and
	// completes.
	ca.replied = true
	res, err := f.exec.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, StatusDone, res.State)
	assertRenewed(t, f)
	assert.Equal(t, staged[0], keystore.KeyFingerprint(f.liveEntry(t, liveAlias).Key.Public()))
	assert.Equal(t, 1, f.calls.count("notify 1 "), "not told again")
}

// TestWaitingStagingStoreLost: a run resumed while step 1 waits for the
// CA's reply, after the staging store was lost or replaced, refuses
// instead of making a second key that the reply would never match, and
// says where the original request went; the store restored, the run goes
// on with the first key.
func TestWaitingStagingStoreLost(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		lose  func(t *testing.T, f *fixture)
		found string
	}{
		{"removed", func(t *testing.T, f *fixture) {
			require.NoError(t, os.Remove(f.tenant.stagingPath()))
		}, "no pending key"},
		{"replaced by another key", func(t *testing.T, f *fixture) {
			require.NoError(t, os.Remove(f.tenant.stagingPath()))
			_, err := f.tenant.Stage(f.old.chain[0])
			require.NoError(t, err)
		}, "another key, SHA-256 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, SequenceOverlap)
			ca := &laterCA{fakeCA: f.ca, dir: f.dir}
			f.exec.CA = ca
			_, err := f.exec.Run(ctx)
			require.ErrorIs(t, err, ErrAwaitingReply)
			p, err := f.tenant.Pending()
			require.NoError(t, err)
			require.NotNil(t, p)
			first := keystore.KeyFingerprint(p.Key.Public())
			request := filepath.Join(f.dir, "request.csr")
			j := f.journal(t)
			assert.Equal(t, first.Hex(), j.Artifacts.StagedKey, "the journal records the key the request is for")
			assert.Equal(t, request, j.Artifacts.Request)

			backup, err := os.ReadFile(f.tenant.stagingPath())
			require.NoError(t, err)
			tc.lose(t, f)
			lost, _ := os.ReadFile(f.tenant.stagingPath())
			ca.replied = true // the reply came, for the first key
			signs := len(ca.keys)
			d, err := f.exec.DryRun(ctx)
			require.NoError(t, err)
			assert.Contains(t, d.Step(StepGenerateKey).Would, "refuse, changing nothing", "a dry run says so too")
			assert.Contains(t, d.Step(StepGenerateKey).Would, request)
			res, err := f.exec.Run(ctx)
			require.ErrorIs(t, err, ErrUnexpectedState)
			assert.NotErrorIs(t, err, ErrAwaitingReply)
			assert.Contains(t, err.Error(), fmt.Sprintf("the request %q", request), "says where the original request went")
			assert.Contains(t, err.Error(), "made for the staged key SHA-256 "+first.Hex())
			assert.Contains(t, err.Error(), tc.found)
			assert.Contains(t, err.Error(), "restore the staging store")
			assert.Equal(t, signs, len(ca.keys), "no request for a second key")
			assert.Equal(t, StatusFailed, res.State)
			now, _ := os.ReadFile(f.tenant.stagingPath())
			assert.Equal(t, lost, now, "the staging store is left as it was")

			// Restored, the run installs the reply on the first key.
			require.NoError(t, os.WriteFile(f.tenant.stagingPath(), backup, 0o600))
			res, err = f.exec.Run(ctx)
			require.NoError(t, err)
			assert.Equal(t, StatusDone, res.State)
			assertRenewed(t, f)
			assert.Equal(t, first, keystore.KeyFingerprint(f.liveEntry(t, liveAlias).Key.Public()))
		})
	}
}

func TestWaitingNotifierFails(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	f.exec.CA = &laterCA{fakeCA: f.ca, dir: f.dir}
	f.nt.err = errors.New("mail server down")
	res, err := f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrAwaitingReply)
	assert.ErrorContains(t, err, "mail server down")
	assert.Equal(t, StatusWaiting, res.State, "still waiting, not failed")
	assert.Contains(t, res.Step(StepGenerateKey).Error, "mail server down")

	// The next run tells again, and then no more.
	f.nt.err = nil
	_, err = f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrAwaitingReply)
	assert.Equal(t, 2, f.calls.count("notify 1 "))
	_, err = f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrAwaitingReply)
	assert.Equal(t, 2, f.calls.count("notify 1 "))
}

func TestAwaitingReplyError(t *testing.T) {
	err := error(&AwaitingReplyError{Request: "/h/r.csr", Reply: "/h/r.reply"})
	assert.ErrorIs(t, err, ErrAwaitingReply)
	assert.Equal(t, `renewal: waiting for the CA's reply: put it at "/h/r.reply" (PEM, DER or PKCS#7) and run again; the request to send to the CA is "/h/r.csr"`, err.Error())
	assert.Equal(t, "waiting", string(StatusWaiting))
	assert.True(t, StatusWaiting.validStep())
	assert.True(t, StatusWaiting.validRun())
}

// TestWaitingJournalGolden pins the journal of a run waiting for the CA:
// the new status value "waiting" for step 1 and the run, the note saying
// where the reply goes, and the staged key's fingerprint and the
// request's path. Journals of other runs are unchanged
// (journal-v1.json.golden).
func TestWaitingJournalGolden(t *testing.T) {
	plan := mustBuild(t, SequenceOverlap, testParams(t))
	j := newJournal(plan, clock())
	j.State = StatusWaiting
	w := &AwaitingReplyError{Request: "/srv/handover/renewal-0123456789abcdef.csr", Reply: "/srv/handover/renewal-0123456789abcdef.reply"}
	j.Steps[0].Status, j.Steps[0].Attempts, j.Steps[0].Note = StatusWaiting, 2, w.Error()
	j.Steps[0].Started, j.Steps[0].Finished = clock(), clock()
	j.Artifacts.OldChain = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
	j.Artifacts.OldFingerprint = plan.Params.OldFingerprint
	j.Artifacts.StagedKey, j.Artifacts.Request = fp("staged key"), w.Request
	j.addFile("/srv/tenant/client.p12.staging")

	path := filepath.Join(t.TempDir(), "j.json")
	require.NoError(t, j.write(path, clock()))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	golden := filepath.Join("testdata", "exec", "journal-v1-waiting.json.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	back, err := readJournal(golden)
	require.NoError(t, err)
	assert.Equal(t, j, back)
	res, err := ReadJournal(golden)
	require.NoError(t, err)
	assert.Equal(t, StatusWaiting, res.State)
	assert.Contains(t, res.String(), "overlap renewal waiting: 0 of 9 steps done")
}
