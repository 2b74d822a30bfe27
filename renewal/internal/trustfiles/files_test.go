package trustfiles

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFilesEditsEachTrustKind(t *testing.T) {
	oldCA, newCA := testpki.NewRoot(t, "Old Root"), testpki.NewRoot(t, "New Root")
	oldChain, newChain := append(oldCA.Leaf(t, "old").Chain, oldCA.Cert), append(newCA.Leaf(t, "new").Chain, newCA.Cert)
	for _, kind := range []truststore.Kind{truststore.PEMBundle, truststore.JKS, truststore.PKCS12} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			checks, reloads := 0, 0
			f := &Files{Prefix: "test", Trust: filepath.Join(dir, "trust"), TrustKind: kind, TrustPassword: []byte("changeit"),
				List: filepath.Join(dir, "list"), ListFormat: NginxMap, Now: func() time.Time { return testpki.Now },
				Check:  func(context.Context) error { checks++; return nil },
				Reload: func(context.Context) error { reloads++; return nil }}
			require.NoError(t, f.Validate("Config"))
			ctx := context.Background()
			require.NoError(t, f.Apply(ctx, f.TrustRootEdit(oldCA.Cert), f.AcceptEdit(oldChain[0])))
			assert.Equal(t, 1, checks)
			assert.Equal(t, 1, reloads)
			require.NoError(t, f.Accepts(oldChain))
			assert.ErrorAs(t, f.Accepts(newChain), new(*NotAcceptedError))

			// again: nothing to do, so no check and no reload
			require.NoError(t, f.Apply(ctx, f.TrustRootEdit(oldCA.Cert), f.AcceptEdit(oldChain[0])))
			assert.Equal(t, 1, reloads)

			require.NoError(t, f.Apply(ctx, f.TrustRootEdit(newCA.Cert), f.AcceptEdit(newChain[0])))
			require.NoError(t, f.Accepts(newChain))
			roots, err := f.Roots()
			require.NoError(t, err)
			assert.Len(t, roots, 2)
			acc, err := f.AcceptedClients()
			require.NoError(t, err)
			assert.Len(t, acc, 2)

			require.NoError(t, f.Apply(ctx, f.RemoveRootEdit(oldCA.Cert), f.RemoveClientEdit(oldChain[0])))
			require.NoError(t, f.Apply(ctx, f.RemoveRootEdit(oldCA.Cert), f.RemoveClientEdit(oldChain[0])))
			assert.Equal(t, 3, reloads)
			var na *NotAcceptedError
			require.ErrorAs(t, f.Accepts(oldChain), &na)
			assert.Contains(t, na.Reason, "does not verify")
			s, err := truststore.Open(f.Trust, []byte("changeit"))
			require.NoError(t, err, "the trust file stays readable by the truststore package")
			assert.True(t, s.ContainsCert(newCA.Cert))
			assert.False(t, s.ContainsCert(oldCA.Cert))
		})
	}
}

func TestApplyRollsBackOnFailedCheck(t *testing.T) {
	oldCA, newCA := testpki.NewRoot(t, "Old Root"), testpki.NewRoot(t, "New Root")
	dir := t.TempDir()
	f := &Files{Prefix: "test", Trust: filepath.Join(dir, "trust.pem"), TrustKind: truststore.PEMBundle,
		List: filepath.Join(dir, "list"), ListFormat: HAProxyACL}
	ctx := context.Background()
	require.NoError(t, f.Apply(ctx, f.TrustRootEdit(oldCA.Cert)))
	require.NoError(t, os.WriteFile(f.List, []byte("# hand-written\n"), 0o644))
	trustBefore, _ := os.ReadFile(f.Trust)
	listBefore, _ := os.ReadFile(f.List)

	reloaded := false
	f.Check = func(ctx context.Context) error {
		// the check sees the edited files
		s, err := truststore.Open(f.Trust, nil)
		require.NoError(t, err)
		assert.True(t, s.ContainsCert(newCA.Cert))
		return Run(ctx, "test", "check", []string{"sh", "-c", "echo the config is broken >&2; exit 3"}, 0)
	}
	f.Reload = func(context.Context) error { reloaded = true; return nil }
	err := f.Apply(ctx, f.TrustRootEdit(newCA.Cert), f.AcceptEdit(newCA.Leaf(t, "c").Cert))
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb)
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 3, ce.ExitCode)
	assert.Contains(t, err.Error(), "the config is broken")
	assert.False(t, reloaded, "no reload after a failed check")
	trustAfter, _ := os.ReadFile(f.Trust)
	listAfter, _ := os.ReadFile(f.List)
	assert.Equal(t, trustBefore, trustAfter)
	assert.Equal(t, listBefore, listAfter)

	// a file that did not exist is removed again
	f2 := &Files{Prefix: "test", List: filepath.Join(dir, "new-list"), ListFormat: SHA256List,
		Reload: func(context.Context) error { return errors.New("reload refused") }}
	require.Error(t, f2.Apply(ctx, f2.AcceptEdit(oldCA.Leaf(t, "x").Cert)))
	_, err = os.Stat(f2.List)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestRunCommandErrors(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, Run(ctx, "test", "check", []string{"true"}, 0))

	err := Run(ctx, "test", "check", []string{"sleep", "10"}, 100*time.Millisecond)
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "timeout")

	err = Run(ctx, "test", "reload", []string{"head", "-c", "200000", "/dev/zero"}, 0)
	assert.NoError(t, err)
	err = Run(ctx, "test", "reload", []string{"sh", "-c", "head -c 200000 /dev/zero; exit 1"}, 0)
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Truncated)
	assert.Len(t, ce.Output, MaxOutput)

	err = Run(ctx, "test", "check", []string{filepath.Join(t.TempDir(), "missing")}, 0)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, -1, ce.ExitCode)
	assert.Error(t, Run(ctx, "test", "check", nil, 0))
}

func TestLastSeen(t *testing.T) {
	ca := testpki.NewRoot(t, "CA")
	a, b := ca.Leaf(t, "a").Cert, ca.Leaf(t, "b").Cert
	dir := t.TempDir()
	p := filepath.Join(dir, "access.log")
	log := "2025-06-01T10:00:00+00:00 " + sha1Hex(a) + " 200\n" +
		"2025-06-01T11:00:00+02:00 - 400\n" +
		"2025-06-01T11:30:00+00:00 " + HAProxyACL.Key(a) + " 403\n" +
		"garbage line\n"
	require.NoError(t, os.WriteFile(p, []byte(log), 0o644))
	got, err := LastSeen("test", p, "FORMAT", a)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2025, 6, 1, 11, 30, 0, 0, time.UTC)), "got %v", got)
	got, err = LastSeen("test", p, "FORMAT", b)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)), "not named: the log's first line, got %v", got)

	// emptied (rotated): possibly seen when it was emptied
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	mtime := time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(p, mtime, mtime))
	got, err = LastSeen("test", p, "FORMAT", a)
	require.NoError(t, err)
	assert.True(t, got.Equal(mtime), "an empty log: its modification time, got %v", got)

	require.NoError(t, os.WriteFile(p, []byte("127.0.0.1 - - [01/Jun/2025] GET / 200\n"), 0o644))
	_, err = LastSeen("test", p, "FORMAT", a)
	var ae *AccessLogError
	require.ErrorAs(t, err, &ae)
	assert.Contains(t, err.Error(), "FORMAT")
	_, err = LastSeen("test", filepath.Join(dir, "none"), "FORMAT", a)
	require.ErrorAs(t, err, &ae)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestPEMBundleKeepsTheAdministratorsBytes: adding a root appends its
// block and keeps every byte before; removing it gives back the file byte
// for byte; removing a root the administrator wrote cuts its block only.
func TestPEMBundleKeepsTheAdministratorsBytes(t *testing.T) {
	oldCA, otherCA, newCA := testpki.NewRoot(t, "Old Root"), testpki.NewRoot(t, "Other Root"), testpki.NewRoot(t, "New Root")
	block := func(c *testpki.CA) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}))
	}
	orig := "# client roots, maintained by ops (ticket 1234)\n\n# the old root:\n" + block(oldCA) +
		"\n# partner root, keep until 2030\n" + block(otherCA) + "# end\n"
	dir := t.TempDir()
	f := &Files{Prefix: "test", Trust: filepath.Join(dir, "ca.pem"), TrustKind: truststore.PEMBundle}
	require.NoError(t, os.WriteFile(f.Trust, []byte(orig), 0o644))
	ctx := context.Background()

	require.NoError(t, f.Apply(ctx, f.TrustRootEdit(newCA.Cert)))
	added, err := os.ReadFile(f.Trust)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(added), orig), "every byte of the file stays, the new block is appended:\n%s", added)
	assert.Contains(t, string(added[len(orig):]), "# certroll: added")
	roots, err := f.Roots()
	require.NoError(t, err)
	assert.Len(t, roots, 3)

	require.NoError(t, f.Apply(ctx, f.RemoveRootEdit(newCA.Cert)))
	back, err := os.ReadFile(f.Trust)
	require.NoError(t, err)
	assert.Equal(t, orig, string(back), "adding then removing gives back the file byte for byte")

	require.NoError(t, f.Apply(ctx, f.RemoveRootEdit(oldCA.Cert)))
	cut, err := os.ReadFile(f.Trust)
	require.NoError(t, err)
	assert.Equal(t, strings.Replace(orig, block(oldCA), "", 1), string(cut), "only the old root's block goes")
	s, err := truststore.Open(f.Trust, nil)
	require.NoError(t, err)
	assert.False(t, s.ContainsCert(oldCA.Cert))
	assert.True(t, s.ContainsCert(otherCA.Cert))
}

// TestApplyReloadFailures: a failed reload restores the files and reloads
// them again; a second failure is an UnknownStateError and leaves the
// marker, which makes the next call reload although nothing changes; a
// reload the server refused (ErrNotReloaded) is restored without a second
// reload.
func TestApplyReloadFailures(t *testing.T) {
	ca := testpki.NewRoot(t, "Root")
	dir := t.TempDir()
	var fails []error // what the next reloads return
	reloads := 0
	f := &Files{Prefix: "test", Trust: filepath.Join(dir, "ca.pem"), TrustKind: truststore.PEMBundle,
		Reload: func(context.Context) error {
			reloads++
			if len(fails) == 0 {
				return nil
			}
			err := fails[0]
			fails = fails[1:]
			return err
		}}
	marker := f.PendingMarker()
	assert.Equal(t, f.Trust+PendingSuffix, marker)
	ctx := context.Background()
	boom := errors.New("wait timed out")

	fails = []error{boom}
	err := f.Apply(ctx, f.TrustRootEdit(ca.Cert))
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb)
	assert.Equal(t, 2, reloads, "reloaded again after the restore")
	assert.NoFileExists(t, f.Trust)
	assert.NoFileExists(t, marker)

	reloads, fails = 0, []error{NotReloaded(boom)}
	require.ErrorAs(t, f.Apply(ctx, f.TrustRootEdit(ca.Cert)), &rb)
	assert.ErrorIs(t, rb, boom)
	assert.Equal(t, 1, reloads, "a refused reload needs no second one")
	assert.NoFileExists(t, marker)

	reloads, fails = 0, []error{boom, boom}
	err = f.Apply(ctx, f.TrustRootEdit(ca.Cert))
	var us *UnknownStateError
	require.ErrorAs(t, err, &us)
	assert.NotErrorAs(t, err, &rb)
	assert.True(t, us.Restored)
	assert.NoFileExists(t, f.Trust, "restored")
	assert.FileExists(t, marker)

	// nothing to change, but the marker: reload, and it goes
	require.NoError(t, f.Apply(ctx, f.RemoveRootEdit(ca.Cert)))
	assert.Equal(t, 3, reloads)
	assert.NoFileExists(t, marker)
	require.NoError(t, f.Apply(ctx, f.RemoveRootEdit(ca.Cert)))
	assert.Equal(t, 3, reloads, "no marker, no change: no reload")
}
