package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/peterbourgon/ff/v4"
)

// update rewrites generated files instead of comparing with them:
// go test ./cmd/redrive -run TestREADMEFlagsTableIsGenerated -update (or
// make readme).
var update = flag.Bool("update", false, "rewrite the README's generated flags table")

const (
	flagsBegin = "<!-- flags:begin (generated from the flag definitions: make readme) -->\n"
	flagsEnd   = "<!-- flags:end -->\n"
)

// flagsTable is the README's table of `redrive run`'s flags, made from the
// flag definitions: name, env var, default (the flag's own, or the one its
// help describes in words) and what it does.
func flagsTable() string {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	var b strings.Builder
	b.WriteString("| flag | env | default | what it does |\n|---|---|---|---|\n")
	fs.WalkFlags(func(f ff.Flag) error { //nolint:errcheck // the callback never fails
		name, _ := f.GetLongName()
		env := envName(name)
		usage := f.GetUsage()
		text, described := splitDescribedDefault(usage)
		text = strings.TrimSuffix(text, " (env "+env+")")
		def := f.GetDefault()
		switch {
		case def != "":
			def = "`" + def + "`"
		default:
			def = described
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", name, env, def, strings.ReplaceAll(text, "|", `\|`))
		return nil
	})
	return b.String()
}

// The README's flags table is the one the flag definitions give, so that
// it cannot show a default that the binary does not have (it used to show
// "system roots) (env REDRIVE_TLS_CA_FILE" as --tls-ca-file's default).
func TestREADMEFlagsTableIsGenerated(t *testing.T) {
	const path = "../../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin := bytes.Index(readme, []byte(flagsBegin))
	end := bytes.Index(readme, []byte(flagsEnd))
	if begin < 0 || end < begin {
		t.Fatalf("README.md lacks the markers %q and %q around the flags table", flagsBegin, flagsEnd)
	}
	want := flagsTable()
	got := string(readme[begin+len(flagsBegin) : end])
	if got == want {
		return
	}
	if !*update {
		t.Fatalf("README.md's flags table is not the one the flags give; run make readme. Want:\n%s", want)
	}
	out := append(append(append([]byte{}, readme[:begin+len(flagsBegin)]...), want...), readme[end:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// No default in the table carries help text or an env var with it.
func TestFlagsTableDefaultsAreClean(t *testing.T) {
	for _, line := range strings.Split(flagsTable(), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 4 {
			continue
		}
		if def := cells[2]; strings.Contains(def, "(env") || strings.Contains(def, ")") {
			t.Errorf("broken default %q in %q", def, line)
		}
	}
	for _, want := range []string{
		"| `--tls-ca-file` | `REDRIVE_TLS_CA_FILE` | system roots | PEM CA bundle for the brokers' certificates |",
		"| `--dlq-topic` | `REDRIVE_DLQ_TOPIC` | INPUT.dlq |",
		"| `--sasl-mechanism` | `REDRIVE_SASL_MECHANISM` | no SASL |",
		"| `--retry-max-delay` | `REDRIVE_RETRY_MAX_DELAY` | `15m0s` |",
	} {
		if !strings.Contains(flagsTable(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
}
