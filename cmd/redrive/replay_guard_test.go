package main

import (
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/dlq/inspect"
)

// Records that the pipeline would park again at once are kept out of a
// replay unless --force: asked for by --error they are refused, found
// among others they are skipped and counted.
func TestReplaySkipsRecordsThatWouldBeParkedAgain(t *testing.T) {
	if err := refuseParkedAgain([]string{"http_4xx", "malformed"}, false); err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("--error malformed: %v", err)
	}
	for _, ok := range [][]string{{"http_4xx", "exhausted"}, nil} {
		if err := refuseParkedAgain(ok, false); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	if err := refuseParkedAgain([]string{"malformed"}, true); err != nil {
		t.Errorf("--force: %v", err)
	}

	rec := func(class string) inspect.Record { return inspect.Record{Envelope: dlq.Envelope{ErrorClass: class}} }
	recs := []inspect.Record{rec("http_4xx"), rec("malformed"), rec("oversize"), rec("malformed"), rec("rule_error"), rec("exhausted")}
	skipped := map[string]int{}
	kept := skipParkedAgain(recs, false, skipped)
	if len(kept) != 2 || kept[0].Class() != "http_4xx" || kept[1].Class() != "exhausted" {
		t.Errorf("kept %v", kept)
	}
	if which, n := describeSkipped(skipped); n != 4 || which != "2 malformed, 1 oversize, 1 rule_error" {
		t.Errorf("skipped %q %d", which, n)
	}
	if len(recs) != 6 || recs[1].Class() != "malformed" {
		t.Error("skipParkedAgain changed its input")
	}
	if got := skipParkedAgain(recs, true, map[string]int{}); len(got) != 6 {
		t.Errorf("--force kept %d of 6", len(got))
	}
}

// Replay's progress: a first line with the total and the expected time at
// the rate, a line per interval with the time left, and a last one.
func TestReplayProgressLines(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var b strings.Builder
	p := newReplayProgress(&b, clock, 1000, 100)
	for i := 0; i < 1000; i++ {
		now = now.Add(10 * time.Millisecond) // 100/s
		p.add(1)
	}
	got := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"replay: sending 1000 records, about 10s at most 100/s",
		"replay: 500/1000 sent (50%), 100/s, about 5s left",
		"replay: 1000/1000 sent (100%), 100/s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
