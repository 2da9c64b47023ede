package pipeline

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

// Invariant 1: a created DLQ keeps a record for its whole retry life
// (max-age + max-delay + margin, and Kafka's week at least); a created
// parking topic keeps records forever; with three replicas or more a
// write acknowledged by all in-sync replicas is on two brokers at least.
func TestInvariant1_CreatedTopicConfigKeepsWaitingRecords(t *testing.T) {
	p := dlq.Policy{MaxAge: 30 * 24 * time.Hour, MaxDelay: time.Hour}
	d := DLQTopicConfig(0, p)
	if got, want := *d["retention.ms"], "2599200000"; got != want { // 30d + 1h + 1h
		t.Errorf("DLQ retention.ms = %s, want %s", got, want)
	}
	if got := *DLQTopicConfig(0, dlq.Policy{})["retention.ms"]; got != "604800000" {
		t.Errorf("DLQ retention.ms under the default policy = %s, want a week", got)
	}
	if *d["cleanup.policy"] != "delete" || *ParkingTopicConfig(0)["cleanup.policy"] != "delete" {
		t.Error("created DLQ and parking topics must have cleanup.policy=delete")
	}
	if got := *ParkingTopicConfig(0)["retention.ms"]; got != "-1" {
		t.Errorf("parking retention.ms = %s, want -1", got)
	}
	for rf, want := range map[int16]string{1: "", 2: "", 3: "2", 5: "2"} {
		got := ""
		if v := withReplication(ParkingTopicConfig(0), rf)["min.insync.replicas"]; v != nil {
			got = *v
		}
		if got != want {
			t.Errorf("replication factor %d: min.insync.replicas = %q, want %q", rf, got, want)
		}
	}
	if c := withReplication(nil, 3); c == nil || *c["min.insync.replicas"] != "2" {
		t.Errorf("a created input topic with 3 replicas: %v", c)
	}
}

// The DLQ check refuses a retention shorter than MinDLQRetention and a
// compacted DLQ; an unlimited retention (-1) and one the broker did not
// report (0) pass.
func TestInvariant1_CheckRetention(t *testing.T) {
	cfg := Config{InputTopic: "in", DLQTopic: "in.dlq", ParkingTopic: "in.parking"}
	least := MinDLQRetention(cfg.Retry)
	for _, tc := range []struct {
		name string
		dlq  topicConfig
		ok   bool
	}{
		{"a millisecond short", topicConfig{retention: least - time.Millisecond, cleanupPolicy: "delete"}, false},
		{"exactly enough", topicConfig{retention: least, cleanupPolicy: "delete"}, true},
		{"unlimited", topicConfig{retention: -1, cleanupPolicy: "delete"}, true},
		{"not reported", topicConfig{}, true},
		{"compacted", topicConfig{retention: -1, cleanupPolicy: "compact"}, false},
		{"compacted and deleted", topicConfig{retention: -1, cleanupPolicy: "delete, compact"}, false},
	} {
		err := checkRetention(slog.New(slog.DiscardHandler), cfg, map[string]topicConfig{cfg.DLQTopic: tc.dlq, cfg.ParkingTopic: {retention: -1}})
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// A finite retention.bytes on the DLQ, or any finite retention on the
// parking topic, is not refused (it depends on volume, or on how long
// people take) but logged: one WARN line each, naming the topic and config.
func TestInvariant1_FiniteRetentionIsWarnedOnce(t *testing.T) {
	cfg := Config{InputTopic: "in", DLQTopic: "in.dlq", ParkingTopic: "in.parking"}
	var log strings.Builder
	err := checkRetention(slog.New(slog.NewTextHandler(&log, nil)), cfg, map[string]topicConfig{
		cfg.DLQTopic:     {retention: -1, retentionBytes: 1 << 30, cleanupPolicy: "delete"},
		cfg.ParkingTopic: {retention: 7 * 24 * time.Hour, retentionBytes: -1, cleanupPolicy: "delete"},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "topic=in.dlq") || !strings.Contains(lines[0], "retention.bytes") ||
		!strings.Contains(lines[1], "topic=in.parking") || !strings.Contains(lines[1], `config="retention.ms=604800000"`) {
		t.Errorf("want one warning per topic naming it and its config, got:\n%s", log.String())
	}
}
