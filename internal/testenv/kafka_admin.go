package testenv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/internal/wait"
)

// adminTimeout bounds CreateTopic, including the wait for every running
// broker to know the topic.
const adminTimeout = 30 * time.Second

// SaramaConfig returns a sarama config for talking to this cluster from a
// test: protocol version 4.0 (Kafka 4 dropped the request versions of
// clients older than 2.1) and a client id naming testenv.
func (k *Kafka) SaramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.ClientID = "redrive-testenv"
	return cfg
}

// CreateTopic creates a topic with configs (e.g. "min.insync.replicas",
// "cleanup.policy"; nil for the broker's defaults) and returns once every
// running broker reports a leader for each of its partitions, so a client
// that starts next does not race the metadata's propagation.
func (k *Kafka) CreateTopic(name string, partitions int32, rf int16, configs map[string]*string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	admin, err := sarama.NewClusterAdmin(k.runningBrokers(), k.SaramaConfig())
	if err != nil {
		return fmt.Errorf("testenv: admin client: %w", err)
	}
	defer admin.Close()
	detail := &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf, ConfigEntries: configs}
	if err := admin.CreateTopic(name, detail, false); err != nil {
		return fmt.Errorf("testenv: creating topic %s: %w", name, err)
	}
	return wait.Until(ctx, 100*time.Millisecond, "topic "+name+" to have leaders on every broker", func() (bool, error) {
		for _, addr := range k.runningBrokers() {
			md, err := k.metadata(addr, name)
			if err != nil {
				return false, err
			}
			if len(md.Partitions) != int(partitions) || slices.ContainsFunc(md.Partitions,
				func(p *sarama.PartitionMetadata) bool { return p.Err != sarama.ErrNoError || p.Leader < 0 }) {
				return false, nil
			}
		}
		return true, nil
	})
}

// WaitInSync waits until every partition of topic has all its replicas in
// sync (ISR = replicas), e.g. after StartNode, before a test stops another
// node.
func (k *Kafka) WaitInSync(ctx context.Context, topic string) error {
	return wait.Until(ctx, 100*time.Millisecond, "topic "+topic+" to be fully in sync", func() (bool, error) {
		brokers := k.runningBrokers()
		if len(brokers) == 0 {
			return false, errors.New("no node is running")
		}
		md, err := k.metadata(brokers[0], topic)
		if err != nil {
			return false, err
		}
		for _, p := range md.Partitions {
			if p.Err != sarama.ErrNoError || len(p.Isr) != len(p.Replicas) {
				return false, nil
			}
		}
		return len(md.Partitions) > 0, nil
	})
}

// TopicMetadata returns one topic's metadata as one running broker sees it.
func (k *Kafka) TopicMetadata(topic string) (*sarama.TopicMetadata, error) {
	brokers := k.runningBrokers()
	if len(brokers) == 0 {
		return nil, errors.New("testenv: no Kafka node is running")
	}
	return k.metadata(brokers[0], topic)
}

// metadata asks one broker, and only that one, about topic.
func (k *Kafka) metadata(addr, topic string) (*sarama.TopicMetadata, error) {
	b := sarama.NewBroker(addr)
	if err := b.Open(k.SaramaConfig()); err != nil {
		return nil, fmt.Errorf("testenv: connecting to %s: %w", addr, err)
	}
	defer b.Close()
	resp, err := b.GetMetadata(&sarama.MetadataRequest{Version: 7, Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("testenv: metadata from %s: %w", addr, err)
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("testenv: metadata from %s: %d topics for %s", addr, len(resp.Topics), topic)
	}
	return resp.Topics[0], nil
}

// runningBrokers returns the addresses of the nodes that run.
func (k *Kafka) runningBrokers() []string {
	var out []string
	for i, addr := range k.Brokers {
		if k.Running(i + 1) {
			out = append(out, addr)
		}
	}
	return out
}
