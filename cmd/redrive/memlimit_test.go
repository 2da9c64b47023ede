package main

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// restoreMemoryLimit puts back the runtime's limit after a test.
func restoreMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
}

// unsetEnv removes name from the environment for the test's duration.
func unsetEnv(t *testing.T, name string) {
	t.Setenv(name, "") // restores the old value at the end
	os.Unsetenv(name)
}

func TestMemoryLimitIsNinetyPercentOfTheContainers(t *testing.T) {
	restoreMemoryLimit(t)
	unsetEnv(t, "AUTOMEMLIMIT")
	unsetEnv(t, "GOMEMLIMIT")
	debug.SetMemoryLimit(math.MaxInt64)
	var logs bytes.Buffer
	setMemoryLimit(slog.New(slog.NewTextHandler(&logs, nil)), memlimit.Limit(1000<<20))
	if got, want := debug.SetMemoryLimit(-1), int64(900<<20); got != want {
		t.Fatalf("Go memory limit = %d, want 90%% of a 1000 MiB container: %d", got, want)
	}
	if !strings.Contains(logs.String(), "limit_mib=900") {
		t.Errorf("the limit is not logged: %s", logs.String())
	}
}

func TestMemoryLimitLeavesAnOperatorsGOMEMLIMIT(t *testing.T) {
	restoreMemoryLimit(t)
	unsetEnv(t, "AUTOMEMLIMIT")
	t.Setenv("GOMEMLIMIT", "123MiB")
	debug.SetMemoryLimit(123 << 20) // what the runtime read at start
	setMemoryLimit(slog.New(slog.DiscardHandler), memlimit.Limit(1000<<20))
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Fatalf("Go memory limit = %d, want the operator's 123 MiB", got)
	}
}

func TestMemoryLimitUnchangedWithoutAContainerLimit(t *testing.T) {
	restoreMemoryLimit(t)
	unsetEnv(t, "AUTOMEMLIMIT")
	unsetEnv(t, "GOMEMLIMIT")
	debug.SetMemoryLimit(math.MaxInt64)
	noCgroup := func() (uint64, error) { return 0, memlimit.ErrNoCgroup }
	setMemoryLimit(slog.New(slog.DiscardHandler), noCgroup)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("Go memory limit = %d without a container limit, want none", got)
	}
}
