package testenv

import (
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
