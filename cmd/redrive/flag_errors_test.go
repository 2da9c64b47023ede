package main

import (
	"strings"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v4"
)

// Errors name the flag, always, first (issue 15): every numeric, duration
// and size flag of `redrive run` is fed a value that cannot work, through
// the binary's own parser, and the error must begin with the flag's name.
func TestEveryBadFlagValueIsNamedFirst(t *testing.T) {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	bad := map[string]string{}
	fs.WalkFlags(func(f ff.Flag) error {
		name, _ := f.GetLongName()
		def := f.GetDefault()
		switch {
		case name == "partitions" || name == "replication-factor" || name == "enrich-retries" || name == "breaker-failures":
			bad[name] = "-3"
		case isDuration(def):
			bad[name] = "-1s"
		case isNumber(def) || strings.HasSuffix(def, "B"):
			bad[name] = "-3"
		}
		return nil
	})
	if len(bad) < 20 {
		t.Fatalf("found only %d numeric flags to try: %v", len(bad), bad)
	}
	enrich := []string{"--enrich-when=true", "--enrich-url=http://api/x"}
	for name, value := range bad {
		args := append([]string{"--" + name + "=" + value}, minimalRun...)
		if strings.HasPrefix(name, "enrich-") || strings.HasPrefix(name, "breaker-") {
			args = append(args, enrich...)
		}
		_, err := parseRunArgs(args)
		if err == nil {
			t.Errorf("--%s=%s accepted", name, value)
			continue
		}
		msg := err.Error()
		// Validation errors begin with the name; the flag parser's own say
		// "parse args: --name: ...".
		if !strings.HasPrefix(msg, name+":") && !strings.Contains(msg, "parse args: --"+name+":") {
			t.Errorf("--%s=%s: error %q does not begin with the flag's name", name, value, msg)
		}
	}
}

func isDuration(s string) bool {
	_, err := time.ParseDuration(s)
	return err == nil && s != "0"
}

func isNumber(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
