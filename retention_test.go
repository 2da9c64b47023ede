package redrive_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/embedded"
	"github.com/redrive-io/redrive/pipeline"
)

// Invariant 1 (nothing is lost) depends on Kafka keeping a DLQ record until
// its retry: start-up refuses a DLQ topic whose retention is shorter than
// --max-age + --retry-max-delay + 1h, and a DLQ or parking topic that is
// compacted (compaction keeps one record per key), naming the topic, the
// config and the command that fixes it. A parking topic with a finite
// retention starts, with one warning.
func TestInvariant1_StartRefusesRetentionThatCouldDeleteAWaitingRecord(t *testing.T) {
	k, err := embedded.StartKafka(2, "orders")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	admin := newAdmin(t, k.Brokers())
	defer admin.Close()
	with := func(base map[string]*string, key, value string) map[string]*string {
		base[key] = &value
		return base
	}
	policy := dlq.Policy{MaxAge: 24 * time.Hour, MaxDelay: 15 * time.Minute}
	need := strconv.FormatInt(pipeline.MinDLQRetention(policy).Milliseconds(), 10)
	topics := map[string]map[string]*string{
		"short.dlq":       with(pipeline.DLQTopicConfig(0, policy), "retention.ms", "3600000"),
		"compact.dlq":     with(pipeline.DLQTopicConfig(0, policy), "cleanup.policy", "compact,delete"),
		"ok.dlq":          pipeline.DLQTopicConfig(0, policy),
		"ok.parking":      pipeline.ParkingTopicConfig(0),
		"week.parking":    with(pipeline.ParkingTopicConfig(0), "retention.ms", "604800000"),
		"compact.parking": with(pipeline.ParkingTopicConfig(0), "cleanup.policy", "compact"),
	}
	for name, conf := range topics {
		if err := admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: conf}, false); err != nil {
			t.Fatal(err)
		}
	}
	start := func(dlqTopic, parking string) (string, error) {
		var topo redrive.Topology
		topo.Kafka.Brokers = k.Brokers()
		topo.Pipeline = pipeline.Config{Group: "g", InputTopic: "orders", DLQTopic: dlqTopic, ParkingTopic: parking, Retry: policy}
		topo.OutputDir = t.TempDir()
		topo.HTTPAddr = "off"
		var log bytes.Buffer
		r, err := topo.Start(context.Background(), redrive.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
		if err == nil {
			r.Close()
		}
		return log.String(), err
	}
	for _, tc := range []struct {
		name, dlq, parking string
		wants              []string
	}{
		{"DLQ retention shorter than max-age", "short.dlq", "ok.parking", []string{"dlq-topic", `"short.dlq"`, "retention.ms=3600000", "--max-age", "retention.ms=" + need, "kafka-configs.sh"}},
		{"compacted DLQ", "compact.dlq", "ok.parking", []string{"dlq-topic", `"compact.dlq"`, "cleanup.policy=compact,delete", "cleanup.policy=delete"}},
		{"compacted parking", "ok.dlq", "compact.parking", []string{"parking-topic", `"compact.parking"`, "cleanup.policy=compact"}},
	} {
		_, err := start(tc.dlq, tc.parking)
		for _, want := range tc.wants {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want it to say %q", tc.name, err, want)
			}
		}
	}
	log, err := start("ok.dlq", "week.parking")
	if err != nil {
		t.Fatalf("finite parking retention: %v", err)
	}
	if n := strings.Count(log, "parking topic retention is finite"); n != 1 || !strings.Contains(log, "retention.ms=604800000") {
		t.Errorf("finite parking retention: want one warning naming retention.ms, log:\n%s", log)
	}
	log, err = start("ok.dlq", "ok.parking")
	if err != nil || strings.Contains(log, "level=WARN") {
		t.Errorf("safe topics: err = %v, log:\n%s", err, log)
	}
}

// --create-topics gives a created DLQ a retention that keeps a record for
// its whole retry life (and a week at least) and cleanup.policy=delete, and
// a created parking topic an unlimited retention: the topics it makes pass
// its own start-up check.
func TestInvariant1_CreateTopicsSetsSafeRetention(t *testing.T) {
	k, err := embedded.StartKafka(2, "orders")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var topo redrive.Topology
	topo.Kafka.Brokers = k.Brokers()
	// A max-age longer than Kafka's default retention of 7 days.
	topo.Pipeline = pipeline.Config{Group: "g", InputTopic: "orders", DLQTopic: "orders.dlq", ParkingTopic: "orders.parking",
		Retry: dlq.Policy{MaxAge: 10 * 24 * time.Hour}}
	topo.Topics.Create = true
	topo.OutputDir = t.TempDir()
	topo.HTTPAddr = "off"
	admin := startThenAdmin(t, topo, "create-topics")
	want := map[string]map[string]string{
		"orders.dlq":     {"retention.ms": strconv.FormatInt((10*24*time.Hour + 15*time.Minute + pipeline.RetentionMargin).Milliseconds(), 10), "cleanup.policy": "delete"},
		"orders.parking": {"retention.ms": "-1", "cleanup.policy": "delete"},
	}
	for topic, configs := range want {
		entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms", "cleanup.policy"}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range entries {
			got[e.Name] = e.Value
		}
		for name, v := range configs {
			if got[name] != v {
				t.Errorf("created %s: %s=%q, want %q", topic, name, got[name], v)
			}
		}
	}
}

// Against real Kafka: a DLQ kept one hour is refused under the default
// --max-age of 24h, naming the topic, the config and the value to set; a
// DLQ that --create-topics makes beside it passes the check and keeps
// records a week, and the parking topic's records forever.
func TestE2E_Invariant1_StartRefusesADLQRetentionShorterThanMaxAge(t *testing.T) {
	e := newEnv(t, 1)
	hour := "3600000"
	short := pipeline.DLQTopicConfig(0, dlq.Policy{})
	short["retention.ms"] = &hour
	e.createTopicsWith(t, 1, map[string]map[string]*string{e.dlq(): short})
	topo := e.topology("")
	_, err := topo.Start(context.Background())
	need := strconv.FormatInt(pipeline.MinDLQRetention(dlq.Policy{}).Milliseconds(), 10)
	for _, want := range []string{"dlq-topic", e.dlq(), "retention.ms=3600000", "--max-age (24h0m0s)", "retention.ms=" + need} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("start-up error %v; want it to say %q", err, want)
		}
	}
	topo.Pipeline.DLQTopic = e.dlq() + ".created"
	topo.Topics.Create = true
	admin := startThenAdmin(t, topo, "start-up with a created DLQ")
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topo.Pipeline.DLQTopic, ConfigNames: []string{"retention.ms", "cleanup.policy"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range entries {
		if want := map[string]string{"retention.ms": "604800000", "cleanup.policy": "delete"}[c.Name]; c.Value != want {
			t.Errorf("created DLQ: %s=%s, want %s", c.Name, c.Value, want)
		}
	}
}

// With three replicas, every topic --create-topics makes gets
// min.insync.replicas=2, so that a write redrive saw acknowledged (acks=all)
// is on two brokers and survives losing one.
func TestInvariant1_CreateTopicsWithThreeReplicasSetsMinInsync(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.Ports(0, 0, 0), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var topo redrive.Topology
	topo.Kafka.Brokers = c.ListenAddrs()
	topo.Pipeline = pipeline.Config{Group: "g", InputTopic: "orders", DLQTopic: "orders.dlq", ParkingTopic: "orders.parking"}
	topo.Topics = pipeline.Topics{Create: true, ReplicationFactor: 3}
	topo.OutputDir = t.TempDir()
	topo.HTTPAddr = "off"
	admin := startThenAdmin(t, topo, "create-topics")
	for _, topic := range []string{"orders.dlq", "orders.parking"} {
		entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"min.insync.replicas"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Value != "2" {
			t.Errorf("created %s: min.insync.replicas %+v, want 2", topic, entries)
		}
	}
}

// startThenAdmin starts topo (which creates or checks its topics), closes
// it, and returns an admin client of its brokers to read what start-up did.
func startThenAdmin(t *testing.T, topo redrive.Topology, what string) sarama.ClusterAdmin {
	t.Helper()
	r, err := topo.Start(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	r.Close()
	admin := newAdmin(t, topo.Kafka.Brokers)
	t.Cleanup(func() { admin.Close() })
	return admin
}
