package renewal

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkRunOverlap measures a whole overlap run against the in-memory
// fakes, with real PKCS#12 keystores (each write derives keys with
// 10,000 PBKDF2 iterations and is fsynced).
func BenchmarkRunOverlap(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b, SequenceOverlap)
		b.StartTimer()
		if _, err := f.exec.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDryRun measures a dry run of the overlap plan before step 1.
func BenchmarkDryRun(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, SequenceOverlap)
	for b.Loop() {
		if _, err := f.exec.DryRun(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJournalWrite measures one atomic, fsynced journal write: the
// executor makes two per step.
func BenchmarkJournalWrite(b *testing.B) {
	j := testJournal(b)
	path := filepath.Join(b.TempDir(), "j.json")
	b.ReportAllocs()
	for b.Loop() {
		if err := j.write(path, clock()); err != nil {
			b.Fatal(err)
		}
	}
}
