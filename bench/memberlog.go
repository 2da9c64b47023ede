package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// memberEvent is one line of a member's log, which workload r reads to find
// its rebalances.
type memberEvent struct {
	Member string
	At     time.Time
	Msg    string // one of the msg* constants
	// Partitions and Generation belong to a msgAssigned line; Generation is
	// that of goka's "setup generation N" line logged just before it in the
	// same session set-up, -1 when there was none.
	Partitions []int32
	Generation int
}

// The log lines the workload reads (redrive's run.go and pipeline).
const (
	msgRunning  = "redrive running"
	msgStopping = "stopping"
	msgRevoked  = "partition revoked"
	msgAssigned = "partitions assigned"
	gokaSetup   = "setup generation " // goka's Setup: "[Processor G] setup generation N, claims=..."
)

// parseMemberLog reads the lines of a member's JSON log that mark its
// group membership. Lines that are not JSON (a panic, a half-written last
// line) are skipped.
func parseMemberLog(member string, data []byte) []memberEvent {
	var out []memberEvent
	gen := -1
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Time       time.Time `json:"time"`
			Msg        string    `json:"msg"`
			Partitions []int32   `json:"partitions"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Time.IsZero() {
			continue
		}
		if _, rest, ok := strings.Cut(l.Msg, gokaSetup); ok {
			digits, _, _ := strings.Cut(rest, ",")
			if g, err := strconv.Atoi(strings.TrimSpace(digits)); err == nil {
				gen = g
			}
			continue
		}
		switch {
		case l.Msg == msgAssigned:
			out = append(out, memberEvent{Member: member, At: l.Time, Msg: l.Msg, Partitions: l.Partitions, Generation: gen})
			gen = -1 // a later set-up that goka did not log must not inherit it
		case l.Msg == msgRunning, l.Msg == msgStopping:
			out = append(out, memberEvent{Member: member, At: l.Time, Msg: l.Msg, Generation: -1})
		case strings.HasPrefix(l.Msg, msgRevoked):
			// Also the warning "partition revoked; records let go ...".
			out = append(out, memberEvent{Member: member, At: l.Time, Msg: msgRevoked, Generation: -1})
		}
	}
	return out
}

// findRebalance finds, among the members' events from `at` on, the
// rebalance that a join or leave of member began: the first generation in
// which exactly holders hold partitions, together every one of
// 0..partitions-1 and none twice. Where goka did not log generations, each
// holder's first non-empty assignment from `at` on stands in for it. ok is
// false until the rebalance has settled.
func findRebalance(evs []memberEvent, at time.Time, kind, member string, holders []string, partitions int32) (rebalanceEvent, bool) {
	ev := rebalanceEvent{Generation: -1}
	var assigned []memberEvent
	for _, e := range evs {
		if e.At.Before(at) {
			continue
		}
		switch e.Msg {
		case msgAssigned:
			assigned = append(assigned, e)
		case msgRevoked, msgStopping:
			if ev.FirstStop.IsZero() || e.At.Before(ev.FirstStop) {
				ev.FirstStop = e.At
			}
		}
		want := msgRunning
		if kind == "leave" {
			want = msgStopping
		}
		if e.Member == member && e.Msg == want && ev.Trigger.IsZero() {
			ev.Trigger = e.At
		}
	}
	// Candidate sets of assignments, by generation in order; the fallback
	// set when generations are unknown.
	byGen := map[int][]memberEvent{}
	var gens []int
	fallback := map[string]memberEvent{}
	for _, e := range assigned {
		if e.Generation >= 0 {
			if _, seen := byGen[e.Generation]; !seen {
				gens = append(gens, e.Generation)
			}
			byGen[e.Generation] = append(byGen[e.Generation], e)
		} else if _, seen := fallback[e.Member]; !seen && len(e.Partitions) > 0 {
			fallback[e.Member] = e
		}
	}
	slices.Sort(gens)
	sets := make([][]memberEvent, 0, len(gens)+1)
	for _, g := range gens {
		sets = append(sets, byGen[g])
	}
	if len(gens) == 0 && len(fallback) > 0 {
		var set []memberEvent
		for _, e := range fallback {
			set = append(set, e)
		}
		sets = append(sets, set)
	}
	for _, set := range sets {
		if !coversExactly(set, holders, partitions) {
			continue
		}
		ev.Assignment = map[string][]int32{}
		for _, e := range set {
			ev.Assignment[e.Member] = e.Partitions
			if e.At.After(ev.AllAssigned) {
				ev.AllAssigned, ev.Generation = e.At, e.Generation
			}
		}
		if ev.FirstStop.IsZero() || ev.Trigger.IsZero() || ev.FirstStop.After(ev.AllAssigned) {
			return ev, false
		}
		ev.Pause = ev.AllAssigned.Sub(ev.FirstStop).Seconds()
		ev.FromTrigger = ev.AllAssigned.Sub(ev.Trigger).Seconds()
		return ev, true
	}
	return ev, false
}

// coversExactly tells whether, in set, every holder and no one else holds
// partitions, and they hold each of 0..partitions-1 exactly once.
func coversExactly(set []memberEvent, holders []string, partitions int32) bool {
	seen := make([]bool, partitions)
	held := map[string]bool{}
	for _, e := range set {
		if len(e.Partitions) == 0 {
			continue
		}
		if !slices.Contains(holders, e.Member) {
			return false
		}
		held[e.Member] = true
		for _, p := range e.Partitions {
			if p < 0 || p >= partitions || seen[p] {
				return false
			}
			seen[p] = true
		}
	}
	return len(held) == len(holders) && !slices.Contains(seen, false)
}
