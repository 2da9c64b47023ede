package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestKafka_OneNode_SaramaVersionsProduceConsumeCommit proves that the real
// broker (Kafka 4, which dropped the request versions of clients older than
// 2.1) works with sarama at the protocol versions redrive may use: goka's
// default config says V2_0_0_0. Each version produces a record with acks=all,
// reads it back in a consumer group and commits it (which also creates
// __consumer_offsets on a one-node cluster).
func TestKafka_OneNode_SaramaVersionsProduceConsumeCommit(t *testing.T) {
	k := needKafka(t)
	for _, tc := range []struct {
		name    string
		version sarama.KafkaVersion
	}{
		{"goka_default_2.0", sarama.V2_0_0_0},
		{"sarama_default", sarama.DefaultVersion},
		{"kafka_4.0", sarama.V4_0_0_0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic, group := UniqueName(t, "topic"), UniqueName(t, "group")
			if err := k.CreateTopic(topic, 1, 1, nil); err != nil {
				t.Fatal(err)
			}
			cfg := k.SaramaConfig()
			cfg.Version = tc.version
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			cfg.Producer.Return.Successes = true
			cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
			cfg.Consumer.Offsets.AutoCommit.Enable = false

			produce(t, k.Brokers, cfg, topic, "key-1", "value-1")
			got := consumeOneInGroup(t, k.Brokers, cfg, group, topic)
			if string(got.Key) != "key-1" || string(got.Value) != "value-1" {
				t.Fatalf("consumed %q=%q, want key-1=value-1", got.Key, got.Value)
			}
			if off := committed(t, k.Brokers, cfg, group, topic); off != 1 {
				t.Fatalf("committed offset %d, want 1", off)
			}
		})
	}
}

// TestKafka_TopicsAreNotAutoCreated proves auto.create.topics.enable=false:
// producing to a missing topic fails and does not create it, so redrive's
// own topic creation is what the tests exercise.
func TestKafka_TopicsAreNotAutoCreated(t *testing.T) {
	k := needKafka(t)
	topic := UniqueName(t, "missing")
	cfg := k.SaramaConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 0
	cfg.Metadata.Retry.Max = 0
	p, err := sarama.NewSyncProducer(k.Brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("x")})
	if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("producing to a missing topic: %v, want %v", err, sarama.ErrUnknownTopicOrPartition)
	}
	md, err := k.TopicMetadata(topic)
	if err != nil {
		t.Fatal(err)
	}
	if md.Err != sarama.ErrUnknownTopicOrPartition {
		t.Fatalf("after the attempt the topic's metadata says %v, want %v", md.Err, sarama.ErrUnknownTopicOrPartition)
	}
}

// TestKafka_ThreeNodes_AcksAllSurvivesLeaderKill proves the failure-test
// setup: with replication factor 3 and min.insync.replicas 2, a record
// produced with acks=all is accepted while the partition's leader is
// killed (SIGKILL, no clean shutdown), the ISR shrinks to the two live
// nodes, both records are read back, and the node rejoins the ISR when it
// is started again.
func TestKafka_ThreeNodes_AcksAllSurvivesLeaderKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	k, err := StartKafka(ctx, 3)
	if err != nil {
		Unavailable(t, "Kafka", err)
		t.Skip("no real Kafka")
	}
	t.Logf("started 3 nodes in %s", time.Since(start).Round(time.Millisecond))
	defer func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	}()
	topic := UniqueName(t, "replicated")
	two := "2"
	if err := k.CreateTopic(topic, 1, 3, map[string]*string{"min.insync.replicas": &two}); err != nil {
		t.Fatal(err)
	}

	cfg := k.SaramaConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	// Enough retries to outlast fencing (4 s) and a leader election.
	cfg.Producer.Retry.Max = 100
	cfg.Producer.Retry.Backoff = 200 * time.Millisecond
	cfg.Metadata.Retry.Max = 100
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	p, err := sarama.NewSyncProducer(k.Brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	send := func(value string) {
		t.Helper()
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(value)}); err != nil {
			t.Fatalf("producing %q: %v", value, err)
		}
	}
	send("before")

	md, err := k.TopicMetadata(topic)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(md.Partitions[0].Isr); got != 3 {
		t.Fatalf("ISR before the kill has %d replicas, want 3", got)
	}
	leader := int(md.Partitions[0].Leader) // node.id i is node i
	if err := k.StopNode(leader, "KILL"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	send("during")
	t.Logf("killed node %d, the leader; the next record was acknowledged %s later", leader,
		time.Since(killed).Round(time.Millisecond))

	md, err = k.TopicMetadata(topic)
	if err != nil {
		t.Fatal(err)
	}
	if isr := md.Partitions[0].Isr; len(isr) != 2 || containsID(isr, leader) {
		t.Fatalf("ISR with node %d dead is %v, want the two others", leader, isr)
	}
	msgs, err := ReadTopic(k.runningBrokers(), cfg, topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Value))
	}
	if len(got) != 2 || got[0] != "before" || got[1] != "during" {
		t.Fatalf("read %q, want [before during]", got)
	}

	restart := time.Now()
	if err := k.StartNode(leader); err != nil {
		t.Fatal(err)
	}
	t.Logf("node %d serves again after %s", leader, time.Since(restart).Round(time.Millisecond))
	if err := k.WaitInSync(ctx, topic); err != nil {
		t.Fatal(err)
	}
	t.Logf("and is back in the ISR after %s", time.Since(restart).Round(time.Millisecond))
}

func containsID(ids []int32, id int) bool {
	for _, x := range ids {
		if int(x) == id {
			return true
		}
	}
	return false
}
