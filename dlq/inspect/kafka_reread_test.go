package inspect

import (
	"context"
	"testing"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/internal/embedded"
)

// A partition can be read again as soon as a read of it returned: replay
// counts its records in one pass and sends them in a second. With the
// partition consumer closed asynchronously, the second read often failed
// with "That topic/partition is already being consumed".
func TestKafkaReadsAPartitionTwiceInARow(t *testing.T) {
	k, err := embedded.StartKafka(1, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	base := sarama.NewConfig()
	base.Version = sarama.V2_8_0_0
	kc, err := Connect(k.Brokers(), ClientConfig(base))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx := context.Background()
	var msgs []OutMessage
	for range 50 {
		msgs = append(msgs, OutMessage{Topic: "t", Partition: 0, Value: []byte(`{}`)})
	}
	for _, res := range kc.Send(ctx, msgs) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	for i := range 20 {
		n := 0
		if err := kc.Read(ctx, "t", 0, 0, 50, func(Message) error { n++; return nil }); err != nil || n != 50 {
			t.Fatalf("read %d: %d records, err %v", i+1, n, err)
		}
	}
}
