package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

// Flags may follow a leaf command's positional arguments; flags of
// commands with subcommands, "--" and flag values stay where they are.
func TestFlagsFirst(t *testing.T) {
	root := newRootCommand(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want string }{
		{"dlq show 2:0 --topic parking", "dlq show --topic parking -- 2:0"},
		{"dlq show 2:0 --topic=dlq", "dlq show --topic=dlq -- 2:0"},
		{"dlq --json show 2:0 --json", "dlq --json show --json -- 2:0"},
		{"dlq show --topic dlq 2:0", "dlq show --topic dlq -- 2:0"},
		{"dlq replay --error malformed --yes", "dlq replay --error malformed --yes"},
		{"dlq replay x --yes --rate 5", "dlq replay --yes --rate 5 -- x"},
		{"dlq show 2:0 -- --topic", "dlq show -- 2:0 --topic"},
		{"rule sample.jsonl --enrich-when true", "rule --enrich-when true -- sample.jsonl"},
		{"run --brokers k:9092", "run --brokers k:9092"},
		{"runn --brokers x", "runn --brokers x"},
		{"dlq bogus --json", "dlq bogus --json"},
		{"", ""},
	} {
		got := strings.Join(flagsFirst(root, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// `redrive dlq show 2:0 --topic X` reads --topic (it used to be refused as
// unexpected arguments): a bad value is reported as such, before any
// connection is tried.
func TestDLQShowTakesFlagsAfterTheCoordinate(t *testing.T) {
	err := run(context.Background(), []string{"dlq", "show", "2:0", "--topic", "bogus", "--input-topic=o", "--brokers=127.0.0.1:1"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `topic: "bogus" is not dlq or parking`) {
		t.Fatalf("err = %v, want --topic's value to be checked", err)
	}
	if args := flagsFirst(newRootCommand(io.Discard, io.Discard), []string{"dlq", "show", "2:0", "--topic", "parking"}); !slices.Contains(args, "--topic") {
		t.Fatal(args)
	}
}
