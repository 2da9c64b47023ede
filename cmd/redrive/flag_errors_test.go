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
	lookup := []string{"--lookup-topic=profiles", "--lookup-key=user_id"}
	for name, value := range bad {
		args := append([]string{"--" + name + "=" + value}, minimalRun...)
		if strings.HasPrefix(name, "enrich-") || strings.HasPrefix(name, "breaker-") || strings.HasPrefix(name, "cache-") {
			args = append(args, enrich...)
		}
		if strings.HasPrefix(name, "lookup-") {
			args = append(append(args, enrich...), lookup...)
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

// The lookup flags' own refusals, and the settings they need from each
// other, also name the flag first.
func TestEveryBadLookupSettingIsNamedFirst(t *testing.T) {
	enrich := []string{"--enrich-when=true", "--enrich-url=http://api/x"}
	table := []string{"--enrich-when=true", "--lookup-topic=profiles", "--lookup-key=user_id"}
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"lookup-miss", append([]string{"--lookup-miss=sometimes"}, append(enrich, "--lookup-topic=profiles", "--lookup-key=user_id")...)},
		{"lookup-miss", table}, // no API: retry or pass must be chosen
		{"lookup-miss", append([]string{"--lookup-miss=api"}, table...)},   // api without an API
		{"lookup-miss", append([]string{"--lookup-miss=pass"}, enrich...)}, // no table
		{"lookup-key", append([]string{"--lookup-miss=pass", "--lookup-key=user_id +"}, "--enrich-when=true", "--lookup-topic=profiles")},
		{"lookup-key", append([]string{"--lookup-miss=pass"}, "--enrich-when=true", "--lookup-topic=profiles")},
		{"lookup-key", append([]string{"--lookup-key=user_id"}, enrich...)}, // neither a table nor a cache
		{"lookup-topic", []string{"--lookup-topic=profiles", "--lookup-key=user_id", "--lookup-miss=pass"}},
		{"lookup-topic", append([]string{"--lookup-topic=orders", "--lookup-key=user_id"}, enrich...)},
		{"lookup-dir", append([]string{"--lookup-dir=/tmp/x"}, enrich...)},
		{"lookup-max-bytes", append([]string{"--lookup-max-bytes=1KiB", "--lookup-miss=pass"}, table...)},
		{"cache-ttl", []string{"--cache-ttl=1m", "--lookup-topic=profiles", "--lookup-key=user_id", "--lookup-miss=pass", "--enrich-when=true"}},
	} {
		_, err := parseRunArgs(append(c.args, minimalRun...))
		if err == nil {
			t.Errorf("%q accepted", c.args)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, c.flag+":") {
			t.Errorf("%q: error %q does not begin with %s:", c.args, msg, c.flag)
		}
	}
	ok := append([]string{"--lookup-miss=retry"}, table...)
	if _, err := parseRunArgs(append(ok, minimalRun...)); err != nil {
		t.Errorf("a table without an API, misses retried: %v", err)
	}
}
