package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestParseStatus proves that RSS, peak RSS and threads are read from
// /proc/PID/status in bytes, whatever the spacing.
func TestParseStatus(t *testing.T) {
	text := "Name:\tredrive\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t   102400 kB\nThreads:\t17\nSigQ:\t0/95000\n"
	rss, hwm, threads := parseStatus(text)
	if rss != 100<<20 || hwm != 200<<20 || threads != 17 {
		t.Errorf("parseStatus = rss %d, hwm %d, threads %d; want %d, %d, 17", rss, hwm, threads, 100<<20, 200<<20)
	}
}

// TestParseStatCPU proves that utime+stime are found by counting from the
// last ')' so that a command name with spaces and parentheses cannot shift
// the fields, and that a truncated line is an error, not a zero.
func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name, text string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "1234 (redrive) S 1 1234 1234 0 -1 4194304 500 0 0 0 250 50 0 0 20 0 9 0 100 0 0", 3 * time.Second, false},
		{"odd name", "1234 (a b) (c)) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0", 100 * time.Millisecond, false},
		{"truncated", "1234 (x) S 1 2 3", 0, true},
		{"no name", "garbage", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.text)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatCPU = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestParseProm proves that series are read with their labels, that Sum
// filters on labels and Max takes the largest series, and that comments
// and unreadable lines are skipped.
func TestParseProm(t *testing.T) {
	text := `# HELP redrive_records_routed_total Records by route.
# TYPE redrive_records_routed_total counter
redrive_records_routed_total{route="direct"} 1500
redrive_records_routed_total{route="enriched"} 250
redrive_partition_pending_records{partition="0"} 12
redrive_partition_pending_records{partition="1"} 9e+03
go_goroutines 155
`
	m, err := parseProm(text)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("redrive_records_routed_total", nil); got != 1750 {
		t.Errorf("Sum(all routes) = %v, want 1750", got)
	}
	if got := m.Sum("redrive_records_routed_total", map[string]string{"route": "enriched"}); got != 250 {
		t.Errorf("Sum(enriched) = %v, want 250", got)
	}
	if got := m.Max("redrive_partition_pending_records"); got != 9000 {
		t.Errorf("Max(pending) = %v, want 9000", got)
	}
	if got := m.Max("go_goroutines"); got != 155 {
		t.Errorf("Max(go_goroutines) = %v, want 155", got)
	}
	if got := m.Max("absent"); got != 0 {
		t.Errorf("Max(absent) = %v, want 0", got)
	}
	if len(m) != 5 {
		t.Errorf("parsed %d series, want 5: %+v", len(m), m)
	}
	// A broken exposition is reported, not half read.
	if _, err := parseProm(text + "broken_line{route=\"x\"}\n"); err == nil {
		t.Error("a broken line was not reported")
	}
}

// TestRecordGen proves that generated records are JSON objects of about
// the requested size carrying the category the rule reads, and that the
// same index always gives the same bytes (runs are comparable).
func TestRecordGen(t *testing.T) {
	g := newRecordGen(1024)
	for i := range 300 {
		v := g.Value(nil, i, categoryOf(i, 0.5))
		var m map[string]any
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatalf("record %d is not JSON: %v\n%s", i, err, v)
		}
		if len(v) < 1000 || len(v) > 1050 {
			t.Errorf("record %d has %d bytes, want about 1024", i, len(v))
		}
		if m["category"] != categoryOf(i, 0.5) {
			t.Errorf("record %d: category %v, want %s", i, m["category"], categoryOf(i, 0.5))
		}
		if needs := strings.Contains(string(v), `"category":"X"`); needs != (categoryOf(i, 0.5) == categoryEnrich) {
			t.Errorf("record %d: the baseline's -match would say %v", i, needs)
		}
	}
	if a, b := g.Value(nil, 42, "A"), newRecordGen(1024).Value(nil, 42, "A"); string(a) != string(b) {
		t.Error("two generators give different bytes for the same record")
	}
}

// TestCategorySpread proves that the records needing enrichment are spread
// evenly over round-robin partitions (a skew would idle half the
// partitions) and that countEnriched agrees with categoryOf at the ends.
func TestCategorySpread(t *testing.T) {
	const n, parts = 80000, 8
	perPart := make([]int, parts)
	for i := range n {
		if categoryOf(i, 0.5) == categoryEnrich {
			perPart[i%parts]++
		}
	}
	for p, c := range perPart {
		if share := float64(c) / (n / parts); share < 0.47 || share > 0.53 {
			t.Errorf("partition %d: %.3f of its records need enrichment, want about 0.5 (%v)", p, share, perPart)
		}
	}
	if got := countEnriched(1000, 1); got != 1000 {
		t.Errorf("countEnriched(1000, 1) = %d, want 1000", got)
	}
	if got := countEnriched(1000, 0); got != 0 {
		t.Errorf("countEnriched(1000, 0) = %d, want 0", got)
	}
}

// TestWants proves the -only and -profile selection of workloads.
func TestWants(t *testing.T) {
	tests := []struct {
		o    options
		id   string
		want bool
	}{
		{options{Profile: true}, "3", true},
		{options{Profile: true}, "p", true},
		{options{Profile: false}, "p", false},
		{options{Only: "1,3", Profile: true}, "3", true},
		{options{Only: "1,3", Profile: true}, "2", false},
		{options{Only: "1,3", Profile: true}, "p", false},
	}
	for _, tt := range tests {
		if got := tt.o.wants(tt.id); got != tt.want {
			t.Errorf("%+v.wants(%q) = %v, want %v", tt.o, tt.id, got, tt.want)
		}
	}
}

// TestMedianRSS proves the steady-RSS figure is the median sample, not the
// mean that one spike would pull up.
func TestMedianRSS(t *testing.T) {
	s := []procSample{{RSS: 50}, {RSS: 900}, {RSS: 60}, {RSS: 55}, {RSS: 58}}
	if got := medianRSS(s); got != 58 {
		t.Errorf("medianRSS = %d, want 58", got)
	}
	if got := medianRSS(nil); got != 0 {
		t.Errorf("medianRSS(nil) = %d, want 0", got)
	}
}

// TestFlagInt proves that the windows the backlog table reports follow
// -redrive-flags as redrive parses them: the last occurrence wins, in
// either spelling, and a missing flag leaves the default.
func TestFlagInt(t *testing.T) {
	tests := []struct {
		flags string
		want  int
	}{
		{"", 20000},
		{"--max-pending 5000", 5000},
		{"--max-pending=7000", 7000},
		{"--max-pending 5000 --batch-max-records 5000 --max-pending=6000", 6000},
		{"--max-waiting 10", 20000},
	}
	for _, tt := range tests {
		if got := flagInt(tt.flags, "--max-pending", 20000); got != tt.want {
			t.Errorf("flagInt(%q) = %d, want %d", tt.flags, got, tt.want)
		}
	}
}
