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
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"runn", "--brokers", "x"}, `unknown command "runn"`},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{nil, "no command given"},
		{[]string{"dlq"}, "dlq: no command given"},
		{[]string{"dlq", "stat"}, `dlq: unknown command "stat"`},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errOut)
		if code := exitCode(err); code != 2 {
			t.Errorf("%q: err=%v exit code %d, want 2", tc.args, err, code)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err=%v, want it to contain %q", tc.args, err, tc.want)
		}
		if !strings.Contains(errOut.String(), "SUBCOMMANDS") {
			t.Errorf("%q: stderr does not hold the usage: %q", tc.args, errOut.String())
		}
	}
}
