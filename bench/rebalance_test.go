package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// logLine is one line of a member's JSON log, as redrive's slog writes it.
func logLine(at time.Time, msg string, extra string) string {
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":%q%s}`, at.Format(time.RFC3339Nano), msg, extra)
}

// TestParseMemberLog proves that the membership lines are read with their
// times, that a "partitions assigned" line takes the generation of goka's
// "setup generation" line before it (and only that one), that a revoke
// that let records go counts as a revoke, and that other and unreadable
// lines are skipped.
func TestParseMemberLog(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 123456789, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	log := strings.Join([]string{
		logLine(at(0), "redrive running", `,"group":"g"`),
		logLine(at(10), "[Processor g] setup generation 7, claims=map[string][]int32{\"t\":[]int32{0, 1}}", `,"component":"goka"`),
		logLine(at(11), "partitions assigned", `,"partitions":[0,1],"standby":false`),
		logLine(at(500), "Consumer group returned, Rebalancing.", `,"component":"goka"`),
		`panic: not JSON`,
		logLine(at(600), "partition revoked", `,"partition":1,"handed_off":0`),
		logLine(at(650), "partition revoked; records let go uncommitted, to be read again after the rejoin", `,"partition":2`),
		logLine(at(660), "partitions revoked everywhere", ``),
		logLine(at(700), "partitions assigned", `,"partitions":[],"standby":true`),
		logLine(at(900), "stopping", `,"grace":"30s"`),
		`{"time":"2026-12-02T05:00:01Z","msg":"partitions assig`, // half-written
	}, "\n")
	got := parseMemberLog("a", []byte(log))
	want := []memberEvent{
		{"a", at(0), msgRunning, nil, -1},
		{"a", at(11), msgAssigned, []int32{0, 1}, 7},
		{"a", at(600), msgRevoked, nil, -1},
		{"a", at(650), msgRevoked, nil, -1},
		{"a", at(700), msgAssigned, []int32{}, -1},
		{"a", at(900), msgStopping, nil, -1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseMemberLog =\n%v\nwant\n%v", got, want)
	}
	for i := range min(len(got), len(want)) {
		if !got[i].At.Equal(want[i].At) {
			t.Errorf("event %d at %v, want %v (nanoseconds kept)", i, got[i].At, want[i].At)
		}
	}
}

// TestFindRebalance proves how a rebalance's pause is pinned: from the
// first partition that stopped to the last set-up of the first generation
// in which exactly the expected members hold every partition once; lines
// from before the trigger, a generation that leaves a member out and one
// that holds a partition twice do not count, and without goka's
// generation lines each holder's first assignment stands in.
func TestFindRebalance(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(member string, ms int, msg string, gen int, parts ...int32) memberEvent {
		return memberEvent{member, at(ms), msg, parts, gen}
	}
	old := []memberEvent{ // before the trigger at 1000 ms
		ev("a", 0, msgAssigned, 3, 0, 1, 2, 3),
		ev("a", 500, msgRevoked, -1),
	}
	join := append(old,
		ev("b", 1100, msgRunning, -1),
		ev("a", 2000, msgRevoked, -1),
		ev("a", 2050, msgRevoked, -1),
		ev("b", 7100, msgAssigned, 4, 2, 3),
		ev("a", 7200, msgAssigned, 4, 0, 1),
	)
	tests := []struct {
		name    string
		evs     []memberEvent
		kind    string
		holders []string
		ok      bool
		pause   time.Duration
		trigger time.Duration
		gen     int
	}{
		{"join", join, "join", []string{"a", "b"}, true, 5200 * time.Millisecond, 6100 * time.Millisecond, 4},
		{"join, not yet the joiner's set-up", join[:len(join)-2], "join", []string{"a", "b"}, false, 0, 0, 0},
		{"join, one member short", append(join[:len(join)-2:len(join)-2],
			ev("a", 7000, msgAssigned, 4, 0, 1, 2, 3),
			ev("b", 7010, msgAssigned, 4),
			ev("b", 9000, msgAssigned, 5, 2, 3),
			ev("a", 9100, msgAssigned, 5, 0, 1),
		), "join", []string{"a", "b"}, true, 7100 * time.Millisecond, 8000 * time.Millisecond, 5},
		{"join, a partition held twice", append(join[:len(join)-2:len(join)-2],
			ev("a", 7000, msgAssigned, 4, 0, 1, 2),
			ev("b", 7010, msgAssigned, 4, 2, 3),
		), "join", []string{"a", "b"}, false, 0, 0, 0},
		{"leave", append(old,
			ev("b", 1001, msgStopping, -1),
			ev("b", 1100, msgRevoked, -1),
			ev("a", 3000, msgRevoked, -1),
			ev("a", 8500, msgAssigned, 5, 0, 1, 2, 3),
		), "leave", []string{"a"}, true, 7499 * time.Millisecond, 7499 * time.Millisecond, 5},
		{"leave, the leaver still holds partitions", append(old,
			ev("b", 1001, msgStopping, -1),
			ev("a", 3000, msgAssigned, 5, 0, 1),
			ev("b", 3000, msgAssigned, 5, 2, 3),
		), "leave", []string{"a"}, false, 0, 0, 0},
		{"join, no generation lines", []memberEvent{
			ev("b", 1100, msgRunning, -1),
			ev("a", 2000, msgRevoked, -1),
			ev("a", 2500, msgAssigned, -1),
			ev("b", 2600, msgAssigned, -1, 0, 1),
			ev("a", 2700, msgAssigned, -1, 2, 3),
			ev("a", 9000, msgAssigned, -1, 0, 1, 2, 3),
		}, "join", []string{"a", "b"}, true, 700 * time.Millisecond, 1600 * time.Millisecond, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := findRebalance(tt.evs, at(1000), tt.kind, "b", tt.holders, 4)
			if ok != tt.ok {
				t.Fatalf("findRebalance ok = %v, want %v (%+v)", ok, tt.ok, got)
			}
			if !ok {
				return
			}
			if d := time.Duration(got.Pause * float64(time.Second)).Round(time.Millisecond); d != tt.pause {
				t.Errorf("pause %v, want %v", d, tt.pause)
			}
			if d := time.Duration(got.FromTrigger * float64(time.Second)).Round(time.Millisecond); d != tt.trigger {
				t.Errorf("from trigger %v, want %v", d, tt.trigger)
			}
			if got.Generation != tt.gen {
				t.Errorf("generation %d, want %d", got.Generation, tt.gen)
			}
		})
	}
}

// TestMedian proves the median of odd and even counts and of none.
func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		v    []float64
		want float64
	}{{nil, 0}, {[]float64{5.2}, 5.2}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.v); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestTriggerPhase proves that the triggers are spread evenly over one
// heartbeat interval, starting at once, and that the interval follows
// --heartbeat-interval in -redrive-flags.
func TestTriggerPhase(t *testing.T) {
	var got []time.Duration
	for i := range 3 {
		got = append(got, triggerPhase(i, 3, 3*time.Second))
	}
	if want := []time.Duration{0, time.Second, 2 * time.Second}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("triggerPhase(i, 3, 3s) = %v, want %v", got, want)
	}
	if got := triggerPhase(0, 0, time.Second); got != 0 {
		t.Errorf("triggerPhase(0, 0, 1s) = %v, want 0", got)
	}
	for flags, want := range map[string]time.Duration{
		"":                                 time.Second, // redrive's default
		"--heartbeat-interval 3s":          3 * time.Second,
		"--heartbeat-interval=500ms --x 1": 500 * time.Millisecond,
		"--heartbeat-interval 1s --heartbeat-interval bad": time.Second,
	} {
		b := &bench{opts: options{RedriveFlags: flags}}
		if got := b.heartbeatInterval(); got != want {
			t.Errorf("heartbeatInterval with %q = %v, want %v", flags, got, want)
		}
	}
}
