package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder stands in for a test to watch what Unavailable does to it.
type recorder struct {
	testing.TB
	fatal bool
	logs  []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "TestUnavailable-simulated" }
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = true
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Log(args ...any) { r.logs = append(r.logs, fmt.Sprint(args...)) }

// TestUnavailable_FailsUnderCIOnly proves the fall-back rule: under CI a
// missing real service fails the test; elsewhere it is logged loudly with
// its reason and the test goes on.
func TestUnavailable_FailsUnderCIOnly(t *testing.T) {
	for _, tc := range []struct {
		ci        string
		wantFatal bool
	}{
		{"true", true},
		{"1", true},
		{"TRUE", true},
		{"false", false},
		{"", false},
		{"yes-ish", false}, // not a boolean: not CI
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			Unavailable(r, "Kafka", errors.New("java not found"))
			if r.fatal != tc.wantFatal {
				t.Fatalf("fatal = %v, want %v", r.fatal, tc.wantFatal)
			}
			if len(r.logs) != 1 || !strings.Contains(r.logs[0], "java not found") {
				t.Fatalf("logs %q do not carry the reason", r.logs)
			}
			if !tc.wantFatal && !strings.Contains(r.logs[0], "REAL KAFKA UNAVAILABLE") {
				t.Fatalf("no banner in %q", r.logs[0])
			}
		})
	}
}
