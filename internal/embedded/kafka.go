package embedded

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is an in-process Kafka-protocol broker on a loopback port.
type Kafka struct {
	cluster *kfake.Cluster
}

// StartKafka starts a one-broker cluster with the given topics, each with
// the given number of partitions.
func StartKafka(partitions int32, topics ...string) (*Kafka, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(0)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded Kafka: %w", err)
	}
	return &Kafka{cluster: c}, nil
}

// Brokers is the bootstrap list.
func (k *Kafka) Brokers() []string { return k.cluster.ListenAddrs() }

// Close stops the broker; its data is gone.
func (k *Kafka) Close() { k.cluster.Close() }
