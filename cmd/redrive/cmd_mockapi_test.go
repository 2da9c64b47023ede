package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// mockapi's errors name the flag, not the Go field behind it.
func TestMockAPIErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--error-rate=1.5"}, "error-rate: 1.5"},
		{[]string{"--permanent-rate=-0.1"}, "permanent-rate: -0.1"},
		{[]string{"--garbage-rate=2"}, "garbage-rate: 2"},
		{[]string{"--error-rate=0.6", "--permanent-rate=0.6"}, "error-rate, permanent-rate and garbage-rate"},
		{[]string{"--latency=-1s"}, "latency: -1s"},
	} {
		err := run(context.Background(), append([]string{"mockapi", "--addr=127.0.0.1:0"}, tc.args...), io.Discard, io.Discard)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Rate") {
			t.Errorf("%v: err = %v, want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}
