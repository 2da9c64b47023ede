package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// Topics says how to create missing topics.
type Topics struct {
	// Create creates missing topics instead of failing. Default false: in
	// production, topics are usually owned by the platform team.
	Create bool
	// Partitions of created topics. Default 8.
	Partitions int32
	// ReplicationFactor of created topics. Default 1 (use 3 on a real cluster).
	ReplicationFactor int16
}

// EnsureTopics checks that the input, DLQ and parking topics exist (creating
// them when asked), that the input and DLQ topics have the same partition
// count, and returns the parking topic's partition count.
func EnsureTopics(admin sarama.ClusterAdmin, cfg Config, t Topics) (parking int32, err error) {
	if t.Partitions == 0 {
		t.Partitions = 8
	}
	if t.ReplicationFactor == 0 {
		t.ReplicationFactor = 1
	}
	names := []string{cfg.InputTopic, cfg.DLQTopic, cfg.ParkingTopic}
	flags := []string{"input-topic", "dlq-topic", "parking-topic"}
	metas, err := admin.DescribeTopics(names)
	if err != nil {
		return 0, fmt.Errorf("describing topics %s: %w", strings.Join(names, ", "), err)
	}
	counts := map[string]int32{}
	created := false
	for _, m := range metas {
		switch {
		case errors.Is(m.Err, sarama.ErrUnknownTopicOrPartition):
			counts[m.Name] = 0
		case m.Err != sarama.ErrNoError:
			return 0, fmt.Errorf("describing topic %s: %w", m.Name, m.Err)
		default:
			counts[m.Name] = int32(len(m.Partitions))
		}
	}
	// The DLQ must be copartitioned with the input topic: a created DLQ
	// takes the input topic's count when that one exists.
	if n := counts[cfg.InputTopic]; n > 0 {
		t.Partitions = n
	}
	for i, name := range names {
		if counts[name] > 0 {
			continue
		}
		if !t.Create {
			return 0, fmt.Errorf("%s: topic %q does not exist; create it (with as many partitions as the input topic for the DLQ) or pass --create-topics", flags[i], name)
		}
		err := admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return 0, fmt.Errorf("%s: creating topic %q: %w", flags[i], name, err)
		}
		counts[name] = t.Partitions
		created = true
	}
	if created {
		// A created topic is not in every broker's metadata at once, and
		// goka fails start-up on a topic it cannot see.
		if err := waitForLeaders(admin, names); err != nil {
			return 0, err
		}
	}
	if counts[cfg.InputTopic] != counts[cfg.DLQTopic] {
		return 0, fmt.Errorf("dlq-topic: %q has %d partitions but input topic %q has %d; they must match so that a key's retries stay on its partition",
			cfg.DLQTopic, counts[cfg.DLQTopic], cfg.InputTopic, counts[cfg.InputTopic])
	}
	return counts[cfg.ParkingTopic], nil
}

// waitForLeaders polls until every partition of the topics has a leader.
func waitForLeaders(admin sarama.ClusterAdmin, names []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		metas, err := admin.DescribeTopics(names)
		ready := err == nil
		for _, m := range metas {
			if m.Err != sarama.ErrNoError || len(m.Partitions) == 0 {
				ready = false
			}
			for _, p := range m.Partitions {
				if p.Leader < 0 {
					ready = false
				}
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("created topics %s have no leaders after 30s (last error: %v)", strings.Join(names, ", "), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
