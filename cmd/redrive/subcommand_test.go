package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A typo in the command (or none at all) prints the usage on stderr and
// exits non-zero: before, `redrive runn` printed nothing and exited 0, so a
// pod with a mistyped args restarted forever with an empty log.
func TestUnknownOrMissingCommandIsAUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"runn", "--brokers", "x"},
		{"bogus"},
		{},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if code := exitCode(err); code != 2 {
			t.Errorf("%q: err=%v exit code %d, want 2", args, err, code)
		}
		if !strings.Contains(errOut.String(), "SUBCOMMANDS") || !strings.Contains(errOut.String(), "run") {
			t.Errorf("%q: stderr does not hold the usage: %q", args, errOut.String())
		}
		if len(args) > 0 && (err == nil || !strings.Contains(err.Error(), args[0])) {
			t.Errorf("%q: err=%v does not name the command", args, err)
		}
	}
}
