package keystore

import (
	"context"
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

var storePassword = []byte("changeit")

// saveTestStore writes testStore's store to a file and returns its path.
func saveTestStore(t *testing.T, f Format) (string, *testpki.Leaf) {
	t.Helper()
	s, leaf, _ := testStore(t, f)
	path := filepath.Join(t.TempDir(), "client.ks")
	require.NoError(t, s.Save(path, storePassword, nil))
	return path, leaf
}

func TestSaveModesAndBackup(t *testing.T) {
	for _, f := range []Format{JKS, PKCS12} {
		t.Run(f.String(), func(t *testing.T) {
			path, _ := saveTestStore(t, f)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a new keystore file is 0600")

			require.NoError(t, os.Chmod(path, 0o640))
			first, err := os.ReadFile(path)
			require.NoError(t, err)
			s, err := Open(path, storePassword, nil)
			require.NoError(t, err)
			require.NoError(t, s.Delete("other"))
			require.NoError(t, s.Save(path, storePassword, &SaveOptions{Backup: ".bak"}))

			fi, err = os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "an existing file keeps its mode")
			bak, err := os.ReadFile(path + ".bak")
			require.NoError(t, err)
			assert.Equal(t, first, bak, "the backup is the file as it was")
			back, err := Open(path, storePassword, nil)
			require.NoError(t, err)
			assert.Equal(t, []string{"client", "old-root"}, back.Aliases())

			names, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
			require.NoError(t, err)
			assert.Empty(t, names, "no temporary file is left behind")
		})
	}
}

// TestFailuresLeaveFileUntouched checks that every refused change, made
// through Update, leaves the file byte-identical.
func TestFailuresLeaveFileUntouched(t *testing.T) {
	newRoot := testpki.NewRoot(t, "New Root")
	newLeaf := newRoot.Leaf(t, "tenant-client")
	stranger := newRoot.Leaf(t, "stranger")
	tests := []struct {
		name     string
		password []byte
		fn       func(*Store) error
		want     error
	}{
		{"key mismatch", storePassword, func(s *Store) error {
			_, err := s.Replace("client", stranger.Key, newLeaf.Chain, nil)
			return err
		}, ErrKeyMismatch},
		{"broken chain", storePassword, func(s *Store) error {
			_, err := s.Replace("client", newLeaf.Key, []*x509.Certificate{newLeaf.Cert, testpki.NewRoot(t, "Elsewhere").Cert}, nil)
			return err
		}, ErrBrokenChain},
		{"missing alias", storePassword, func(s *Store) error {
			_, err := s.Replace("nobody", newLeaf.Key, newLeaf.Chain, nil)
			return err
		}, ErrAliasNotFound},
		{"alias of a trusted entry", storePassword, func(s *Store) error {
			_, err := s.Replace("old-root", newLeaf.Key, newLeaf.Chain, nil)
			return err
		}, ErrNotKeyEntry},
		{"wrong password", []byte("not-the-password"), func(s *Store) error {
			t.Fatal("fn must not run when the store does not open")
			return nil
		}, ErrIncorrectPassword},
		{"error from fn after a change", storePassword, func(s *Store) error {
			require.NoError(t, s.Delete("other"))
			return fmt.Errorf("caller gives up")
		}, nil},
	}
	for _, f := range []Format{JKS, PKCS12} {
		for _, tc := range tests {
			t.Run(f.String()+"/"+tc.name, func(t *testing.T) {
				path, _ := saveTestStore(t, f)
				before, err := os.ReadFile(path)
				require.NoError(t, err)
				err = Update(context.Background(), path, tc.password, tc.fn, nil)
				require.Error(t, err)
				if tc.want != nil {
					assert.ErrorIs(t, err, tc.want)
				}
				after, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, before, after, "the file must be byte-identical")
			})
		}
	}
}

// TestUpdateAcrossProcesses runs several processes that each add their
// own aliases to one file with Update; every alias must be there at the
// end.
func TestUpdateAcrossProcesses(t *testing.T) {
	if os.Getenv("CERTROLL_UPDATE_WORKER") != "" {
		return // the worker's part runs in TestUpdateWorker
	}
	path, _ := saveTestStore(t, JKS)
	const procs, each = 4, 5
	type result struct {
		out []byte
		err error
	}
	results := make(chan result, procs)
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUpdateWorker$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CERTROLL_UPDATE_WORKER="+strconv.Itoa(p), "CERTROLL_UPDATE_FILE="+path,
			"CERTROLL_UPDATE_EACH="+strconv.Itoa(each))
		go func() {
			out, err := cmd.CombinedOutput()
			results <- result{out, err}
		}()
	}
	for p := 0; p < procs; p++ {
		r := <-results
		require.NoError(t, r.err, "worker output:\n%s", r.out)
	}
	s, err := Open(path, storePassword, nil)
	require.NoError(t, err)
	for p := 0; p < procs; p++ {
		for i := 0; i < each; i++ {
			assert.True(t, hasAlias(s, fmt.Sprintf("worker-%d-%d", p, i)), "worker-%d-%d lost", p, i)
		}
	}
	assert.Equal(t, 3+procs*each, len(s.Aliases()))
}

// TestUpdateWorker is the body of one worker process of
// TestUpdateAcrossProcesses; it does nothing in a normal run.
func TestUpdateWorker(t *testing.T) {
	w := os.Getenv("CERTROLL_UPDATE_WORKER")
	if w == "" {
		return
	}
	path := os.Getenv("CERTROLL_UPDATE_FILE")
	each, err := strconv.Atoi(os.Getenv("CERTROLL_UPDATE_EACH"))
	require.NoError(t, err)
	root := testpki.NewRoot(t, "Worker Root "+w)
	for i := 0; i < each; i++ {
		alias := fmt.Sprintf("worker-%s-%d", w, i)
		require.NoError(t, Update(context.Background(), path, storePassword, func(s *Store) error {
			return s.Set(&Entry{Alias: alias, Chain: []*x509.Certificate{root.Cert}}, nil)
		}, nil))
	}
}

// TestUpdateCreates: a missing file is an error, unless UpdateOptions
// names a format; then fn gets an empty store of that format and the file
// is created 0600. An existing file is opened as usual, whatever Create
// says.
func TestUpdateCreates(t *testing.T) {
	root := testpki.NewRoot(t, "Created Root")
	for _, f := range []Format{JKS, PKCS12} {
		t.Run(f.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "new.ks")
			err := Update(context.Background(), path, storePassword, func(*Store) error {
				t.Fatal("fn must not run for a missing file")
				return nil
			}, nil)
			require.ErrorIs(t, err, fs.ErrNotExist)
			_, err = os.Stat(path)
			require.ErrorIs(t, err, fs.ErrNotExist, "a refused Update creates nothing")

			opts := &UpdateOptions{Create: f}
			require.NoError(t, Update(context.Background(), path, storePassword, func(s *Store) error {
				assert.Equal(t, f, s.Format())
				assert.Equal(t, 0, len(s.Aliases()))
				return s.Set(&Entry{Alias: "root", Chain: []*x509.Certificate{root.Cert}}, nil)
			}, opts))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

			require.NoError(t, Update(context.Background(), path, storePassword, func(s *Store) error {
				assert.Equal(t, []string{"root"}, s.Aliases(), "an existing file is opened, not created anew")
				return nil
			}, opts))
			back, err := Open(path, storePassword, nil)
			require.NoError(t, err)
			assert.Equal(t, f, back.Format())
			assert.Equal(t, []string{"root"}, back.Aliases())
		})
	}
	err := Update(context.Background(), filepath.Join(t.TempDir(), "x"), storePassword, func(*Store) error { return nil }, &UpdateOptions{Create: Format(7)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "UpdateOptions.Create")
}
