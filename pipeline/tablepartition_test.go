package pipeline

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// javaPartition places keys where Kafka's Java producer does: franz-go's
// Kafka-compatible partitioner (murmur2) is the reference, over keys of
// every length up to 40 bytes and several partition counts.
func TestJavaPartitionMatchesKafkas(t *testing.T) {
	ref := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		key := make([]byte, r.IntN(41))
		for i := range key {
			key[i] = byte(r.IntN(256))
		}
		for _, n := range []int{1, 3, 8, 12, 100} {
			if got, want := javaPartition(string(key), n), ref.Partition(&kgo.Record{Key: key}, n); got != want {
				t.Fatalf("key %q over %d partitions: partition %d, Kafka's %d", key, n, got, want)
			}
		}
	}
}
