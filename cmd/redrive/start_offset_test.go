package main

import (
	"testing"

	"github.com/redrive-io/redrive/pipeline"
)

// Kafka's own words for the start offset, earliest and latest, are
// accepted as oldest and newest.
func TestStartOffsetAcceptsKafkasWords(t *testing.T) {
	for in, want := range map[string]pipeline.StartOffset{
		"oldest": pipeline.StartOldest, "earliest": pipeline.StartOldest, "EARLIEST": pipeline.StartOldest,
		"newest": pipeline.StartNewest, "latest": pipeline.StartNewest,
	} {
		topo, err := parseRunArgs(append([]string{"--start-offset=" + in}, minimalRun...))
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if topo.StartOffset != want {
			t.Errorf("%s: start offset %q, want %q", in, topo.StartOffset, want)
		}
	}
}
