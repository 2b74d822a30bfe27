package renewal

import (
	"encoding/json"
	"testing"
)

func BenchmarkOverlap(b *testing.B) {
	p := testParams(b)
	p.Receiver = testProfile()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(SequenceOverlap, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarkdown(b *testing.B) {
	p := testParams(b)
	p.Receiver = testProfile()
	plan := mustBuild(b, SequenceOverlap, p)
	b.ReportAllocs()
	for b.Loop() {
		_ = plan.Markdown()
	}
}

func BenchmarkMermaid(b *testing.B) {
	plan := mustBuild(b, SequenceOverlap, testParams(b))
	b.ReportAllocs()
	for b.Loop() {
		_ = plan.Mermaid()
	}
}

func BenchmarkJSONRoundTrip(b *testing.B) {
	p := testParams(b)
	p.Receiver = testProfile()
	plan := mustBuild(b, SequenceDowntime, p)
	b.ReportAllocs()
	for b.Loop() {
		data, err := json.Marshal(plan)
		if err != nil {
			b.Fatal(err)
		}
		var back Plan
		if err := json.Unmarshal(data, &back); err != nil {
			b.Fatal(err)
		}
	}
}
