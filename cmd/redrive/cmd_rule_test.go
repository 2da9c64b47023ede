package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `redrive rule` says, per sample record, whether the rule matches and why
// it cannot be evaluated, so a rule is tried before it parks real traffic.
func TestRuleCommandJudgesEachRecord(t *testing.T) {
	sample := filepath.Join(t.TempDir(), "sample.jsonl")
	lines := `{"category":"X","amount":150}
{"category":"Y","amount":50}

{"category":"X"}
not json
` + "{\"category\":\"X\",\"amount\":150,\"name\":\"caf\xe9\"}\n" + `[{"category":"X"}]
`
	if err := os.WriteFile(sample, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"rule", "--enrich-when", `category == "X" && amount > 100`, sample}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "4 of 6 records would be parked") {
		t.Fatalf("err = %v, want the parked count", err)
	}
	got := out.String()
	for _, want := range []string{
		":1\tmatch\n", ":2\tno match\n", ":4\trule_error: ", ":5\tmalformed: ",
		":6\tmalformed: value is not valid JSON: byte 0xe9 at offset 40 in a string is not UTF-8", // as the pipeline parks it
		":7\tmalformed: value is not a JSON object",
		"6 records: 1 match, 1 do not, 1 rule_error, 3 malformed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// A rule that can never yield true/false is refused before any record is
// read, and the error names the flag.
func TestRuleCommandRefusesANonBooleanRule(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"rule", "--enrich-when", "amount + 1", "/does/not/matter"}, &out, &errOut)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "enrich-when") {
		t.Fatalf("err=%v code=%d", err, exitCode(err))
	}
}
