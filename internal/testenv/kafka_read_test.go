package testenv

import (
	"fmt"
	"slices"
	"testing"

	"github.com/IBM/sarama"
)

// ReadTopic reads every partition to the end it had, in partition and
// offset order, from the offsets it is given or else from the oldest.
func TestReadTopic_FromOffsetsToTheEnd(t *testing.T) {
	k := needKafka(t)
	topic := UniqueName(t, "read")
	if err := k.CreateTopic(topic, 3, 1, nil); err != nil {
		t.Fatal(err)
	}
	cfg := k.SaramaConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(k.Brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Partition 1 stays empty.
	for _, at := range []struct {
		partition int32
		value     string
	}{{2, "2a"}, {0, "0a"}, {2, "2b"}, {0, "0b"}, {0, "0c"}} {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: at.partition, Value: sarama.StringEncoder(at.value)}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(from map[int32]int64) []string {
		t.Helper()
		msgs, err := ReadTopic(k.Brokers, k.SaramaConfig(), topic, from)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, fmt.Sprintf("%d/%d=%s", m.Partition, m.Offset, m.Value))
		}
		return got
	}
	if got, want := read(nil), []string{"0/0=0a", "0/1=0b", "0/2=0c", "2/0=2a", "2/1=2b"}; !slices.Equal(got, want) {
		t.Errorf("read from the oldest: %v, want %v", got, want)
	}
	if got, want := read(map[int32]int64{0: 2, 2: 2}), []string{"0/2=0c"}; !slices.Equal(got, want) {
		t.Errorf("read from offsets: %v, want %v", got, want)
	}
	if _, err := ReadTopic(k.Brokers, k.SaramaConfig(), UniqueName(t, "missing"), nil); err == nil {
		t.Error("reading a missing topic succeeded")
	}
}
