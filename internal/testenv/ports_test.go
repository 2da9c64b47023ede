package testenv

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
)

// TestFreePorts_DistinctAndBindable proves that the ports drawn are
// distinct and can be bound on 127.0.0.1 right after.
func TestFreePorts_DistinctAndBindable(t *testing.T) {
	ports, err := FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d drawn twice in %v", p, ports)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}

// TestParseSignal covers the signal names StopNode accepts.
func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"KILL", "killed", false},
		{"sigkill", "killed", false},
		{"TERM", "terminated", false},
		{"", "terminated", false},
		{"HUP", "", true},
	} {
		sig, err := parseSignal(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && sig.String() != tc.want) {
			t.Errorf("parseSignal(%q) = %v, %v", tc.in, sig, err)
		}
	}
}

// TestWithFreshPorts_RetriesOnlyATakenPort proves that a start is tried
// again only when a port was taken, and at most three times in all.
func TestWithFreshPorts_RetriesOnlyATakenPort(t *testing.T) {
	other := errors.New("broken")
	for _, tc := range []struct {
		name      string
		fails     []error // what the attempts return, in order; then success
		wantCalls int
		wantErr   error
	}{
		{"first try", nil, 1, nil},
		{"taken once", []error{errPortTaken}, 2, nil},
		{"taken thrice", []error{errPortTaken, errPortTaken, errPortTaken}, 3, errPortTaken},
		{"other error", []error{other}, 1, other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			_, err := withFreshPorts(func() (int, error) {
				calls++
				if calls <= len(tc.fails) {
					return 0, fmt.Errorf("start: %w", tc.fails[calls-1])
				}
				return 1, nil
			})
			if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("%d calls, err %v; want %d calls, err %v", calls, err, tc.wantCalls, tc.wantErr)
			}
		})
	}
}
