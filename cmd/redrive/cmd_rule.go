package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/peterbourgon/ff/v4"

	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/pipeline"
)

// newRuleCommand is `redrive rule`: try an --enrich-when rule on sample
// records before deploying it, instead of finding out from a parking topic
// full of rule_error records.
func newRuleCommand(stdin io.Reader, stdout, _ io.Writer) *ff.Command {
	var when string
	fs := newFlagSet("rule")
	fs.str(&when, "enrich-when", "", `the rule to try, as given to 'redrive run', e.g. 'category == "X"' (required)`)
	return &ff.Command{
		Name:      "rule",
		Usage:     "redrive rule --enrich-when EXPR [FILE...] < sample.jsonl",
		ShortHelp: "try an --enrich-when rule on sample records (JSON Lines) and say which match and why others fail",
		LongHelp: `Compile the rule as 'redrive run' does (an error names --enrich-when), then
evaluate it on each line of the files given, or of stdin, decoded as the
pipeline decodes a record. One line of output per record:

  LINE  match         the record would be enriched
  LINE  no match      the record would go straight to S3
  LINE  rule_error    the rule cannot be evaluated on it: it would be parked
  LINE  malformed     not a JSON object: it would be parked

then a summary. The exit code is 1 when a record would be parked.`,
		Flags: fs.FlagSet,
		Exec: func(_ context.Context, args []string) error {
			if when == "" {
				return usageError{errors.New("enrich-when: required (the rule to try)")}
			}
			rule, err := enrich.CompileRule(when)
			if err != nil {
				return usageError{fmt.Errorf("enrich-when: %w", err)}
			}
			var sum ruleSummary
			if len(args) == 0 {
				args = []string{"-"}
			}
			for _, name := range args {
				if err := tryRuleOn(rule, name, stdin, stdout, &sum); err != nil {
					return err
				}
			}
			fmt.Fprintf(stdout, "%d records: %d match, %d do not, %d rule_error, %d malformed\n",
				sum.records, sum.match, sum.noMatch, sum.ruleErr, sum.malformed)
			if n := sum.ruleErr + sum.malformed; n > 0 {
				return fmt.Errorf("%d of %d records would be parked", n, sum.records)
			}
			return nil
		},
	}
}

// ruleSummary counts the outcomes of `redrive rule`.
type ruleSummary struct{ records, match, noMatch, ruleErr, malformed int }

// tryRuleOn evaluates rule on every non-blank line of the file name ("-"
// is stdin) and prints one line per record.
func tryRuleOn(rule *enrich.Rule, name string, stdin io.Reader, stdout io.Writer, sum *ruleSummary) error {
	in, label := stdin, "stdin"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in, label = f, name
	}
	r := bufio.NewReader(in)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			sum.records++
			fmt.Fprintf(stdout, "%s:%d\t%s\n", label, line, judge(rule, b, sum))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", label, err)
		}
	}
}

// judge evaluates rule on one record as the pipeline would.
func judge(rule *enrich.Rule, value []byte, sum *ruleSummary) string {
	fields, err := pipeline.DecodeRecord(value)
	if err != nil {
		sum.malformed++
		return "malformed: " + err.Error()
	}
	ok, err := rule.Match(fields)
	switch {
	case err != nil:
		sum.ruleErr++
		return "rule_error: " + err.Error()
	case ok:
		sum.match++
		return "match"
	}
	sum.noMatch++
	return "no match"
}
