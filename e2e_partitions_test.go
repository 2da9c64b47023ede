package redrive_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// Partitions added to the input topic while redrive runs: goka assigns the
// input and DLQ topics together and needs them to have the same count.
// Within a minute the group notices; the session then fails loudly (one
// WARN line with cause partitions and a hint naming the DLQ and the fix,
// /readyz 503) instead of leaving the new partitions unread and unreported.
// Once the DLQ is grown, the session comes back by itself and every record,
// in the new partitions too, reaches S3.
func TestE2E_InputPartitionsAddedWhileRunning(t *testing.T) {
	// It mostly waits for the group's one-minute partition check, on
	// topics of its own: it runs beside the other waiting tests, after
	// the ones that stop shared services.
	t.Parallel()
	e := newEnv(t, 1)
	e.createTopics(t, 1)
	first := produce(t, e.brokers, e.topic(), sampleRecords(200, 0))
	p := e.start(t, e.runArgs(""))
	addr := p.httpAddr()
	e.waitComplete(t, first, time.Minute)

	admin := newAdmin(t, e.brokers)
	defer admin.Close()
	if err := admin.CreatePartitions(e.topic(), 6, nil, false); err != nil {
		t.Fatal(err)
	}
	more := produce(t, e.brokers, e.topic(), sampleRecords(600, 0))
	onNew := 0
	for o := range more {
		if o.Partition >= 4 {
			onNew++
		}
	}
	if onNew == 0 {
		t.Fatal("no record went to the new partitions; the test proves nothing")
	}
	wait.For(t, 3*time.Minute, "the session lost to the partition counts, with a hint", func() bool {
		for _, l := range strings.Split(p.tail(200), "\n") {
			if strings.Contains(l, `"msg":"kafka session lost`) && strings.Contains(l, `"cause":"partitions"`) &&
				strings.Contains(l, "kafka-topics.sh --alter --topic "+e.dlq()) {
				return true
			}
		}
		return false
	})
	if code := status(addr, "/readyz"); code != 503 {
		t.Errorf("/readyz answered %d while no partition could be assigned, want 503", code)
	}
	if err := admin.CreatePartitions(e.dlq(), 6, nil, false); err != nil {
		t.Fatal(err)
	}
	rep := e.waitComplete(t, more, 3*time.Minute)
	if !p.running() {
		t.Fatal("redrive exited")
	}
	t.Logf("%d records, %d of them on the new partitions, in S3 after the DLQ grew (%d duplicates)", len(more), onNew, rep.duplicates)
}

// At start-up, a DLQ with fewer partitions than the input topic (the input
// grew) is grown to match with --create-topics, and refused without it,
// naming the DLQ, both counts and the command that fixes it.
func TestStartGrowsTheDLQToTheInputsPartitions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	setup := newAdmin(t, c.ListenAddrs())
	for name, conf := range map[string]map[string]*string{
		"orders.dlq": pipeline.DLQTopicConfig(0, dlq.Policy{}), "orders.parking": pipeline.ParkingTopicConfig(0),
	} {
		if err := setup.CreateTopic(name, &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: 1, ConfigEntries: conf}, false); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	var topo redrive.Topology
	topo.Kafka.Brokers = c.ListenAddrs()
	topo.Pipeline = pipeline.Config{Group: "g", InputTopic: "orders", DLQTopic: "orders.dlq", ParkingTopic: "orders.parking"}
	topo.OutputDir = t.TempDir()
	topo.HTTPAddr = "off"
	_, err = topo.Start(context.Background())
	for _, want := range []string{"dlq-topic", `"orders.dlq" has 4 partitions`, `"orders" has 6`, "kafka-topics.sh --alter --topic orders.dlq --partitions 6"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("start-up without --create-topics: %v; want it to say %q", err, want)
		}
	}

	topo.Topics.Create = true
	admin := startThenAdmin(t, topo, "start-up with --create-topics")
	meta, err := admin.DescribeTopics([]string{"orders.dlq", "orders.parking"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range meta {
		got[m.Name] = len(m.Partitions)
	}
	if got["orders.dlq"] != 6 || got["orders.parking"] != 4 {
		t.Fatalf("partitions after start-up: %v; want the DLQ grown to 6 and parking left at 4", got)
	}
}
