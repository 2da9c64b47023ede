package redrive_test

import (
	"context"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/embedded"
	"github.com/redrive-io/redrive/pipeline"
)

// Without --create-topics, missing topics stop start-up with a message that
// names the flag; a DLQ that is not copartitioned with the input is caught
// before anything is consumed.
func TestStartChecksTopics(t *testing.T) {
	k, err := embedded.StartKafka(4, "orders", "other.dlq")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	admin := newAdmin(t, k.Brokers())
	defer admin.Close()
	for name, detail := range map[string]*sarama.TopicDetail{
		"orders.dlq3":    {NumPartitions: 3, ReplicationFactor: 1, ConfigEntries: pipeline.DLQTopicConfig(0, dlq.Policy{})},
		"orders.parking": {NumPartitions: 4, ReplicationFactor: 1, ConfigEntries: pipeline.ParkingTopicConfig(0)},
	} {
		if err := admin.CreateTopic(name, detail, false); err != nil {
			t.Fatal(err)
		}
	}
	base := func(dlqTopic string, create bool) redrive.Topology {
		var topo redrive.Topology
		topo.Kafka.Brokers = k.Brokers()
		topo.Pipeline = pipeline.Config{Group: "g", InputTopic: "orders", DLQTopic: dlqTopic, ParkingTopic: "orders.parking"}
		topo.Topics.Create = create
		topo.OutputDir = t.TempDir()
		topo.HTTPAddr = "off"
		return topo
	}
	for _, tc := range []struct {
		name  string
		topo  redrive.Topology
		wants []string
	}{
		{"missing DLQ", base("orders.dlq", false), []string{"dlq-topic", `"orders.dlq" does not exist`, "--create-topics"}},
		{"DLQ not copartitioned", base("orders.dlq3", false), []string{"dlq-topic", "3 partitions", "4"}},
	} {
		_, err := tc.topo.Start(context.Background())
		for _, want := range tc.wants {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want it to say %q", tc.name, err, want)
			}
		}
	}
	// With --create-topics the missing DLQ is created with the input
	// topic's partition count.
	r, err := base("orders.dlq", true).Start(context.Background())
	if err != nil {
		t.Fatalf("create-topics: %v", err)
	}
	defer r.Close()
	md, err := admin.DescribeTopics([]string{"orders.dlq"})
	if err != nil || len(md) != 1 || len(md[0].Partitions) != 4 {
		t.Fatalf("created DLQ: %+v %v", md, err)
	}
}
