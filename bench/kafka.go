package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/internal/wait"
)

// cluster answers the benchmark's questions about the broker: high-water
// marks, a group's committed offsets and state. "Done" is always measured
// here, outside the process under test: a group is caught up when its
// committed offsets reach the high-water marks, which for redrive means
// every record is durable in S3, the DLQ or parking.
type cluster struct {
	brokers []string
	client  sarama.Client
	admin   sarama.ClusterAdmin
}

func newCluster(brokers []string) (*cluster, error) {
	cfg := sarama.NewConfig()
	cfg.ClientID = "redrive-bench"
	cfg.Version = sarama.V3_6_0_0
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 250 * time.Millisecond
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %v: %w", brokers, err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("admin client: %w", err)
	}
	return &cluster{brokers: brokers, client: client, admin: admin}, nil
}

// Close closes the admin client and with it the client.
func (c *cluster) Close() error { return c.admin.Close() }

// CreateTopic creates a topic and waits until each partition has a leader.
func (c *cluster) CreateTopic(ctx context.Context, name string, partitions int32, configs map[string]*string) error {
	err := c.admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return fmt.Errorf("creating topic %s: %w", name, err)
	}
	return wait.Until(ctx, 100*time.Millisecond, "topic "+name+" to have leaders", func() (bool, error) {
		if err := c.client.RefreshMetadata(name); err != nil {
			return false, nil //nolint:nilerr // not known yet: poll again
		}
		parts, err := c.client.Partitions(name)
		if err != nil || len(parts) != int(partitions) {
			return false, nil //nolint:nilerr // not known yet: poll again
		}
		for _, p := range parts {
			if _, err := c.client.Leader(name, p); err != nil {
				return false, nil //nolint:nilerr // no leader yet: poll again
			}
		}
		return true, nil
	})
}

// partitions lists a topic's partitions, refreshing metadata for topics
// created by someone else (redrive creates its DLQ and parking topics).
func (c *cluster) partitions(topic string) ([]int32, error) {
	parts, err := c.client.Partitions(topic)
	if err != nil || len(parts) == 0 {
		if rerr := c.client.RefreshMetadata(topic); rerr != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, rerr)
		}
		parts, err = c.client.Partitions(topic)
	}
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	return parts, nil
}

// HighWater returns each partition's high-water mark (the next offset).
func (c *cluster) HighWater(topic string) (map[int32]int64, error) {
	parts, err := c.partitions(topic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		off, err := c.client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("high-water mark of %s/%d: %w", topic, p, err)
		}
		out[p] = off
	}
	return out, nil
}

// Committed returns the group's committed offsets of topic (-1 where none).
func (c *cluster) Committed(group, topic string) (map[int32]int64, error) {
	parts, err := c.partitions(topic)
	if err != nil {
		return nil, err
	}
	resp, err := c.admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	out := make(map[int32]int64, len(parts))
	for _, p := range parts {
		out[p] = -1
		if b := resp.GetBlock(topic, p); b != nil && b.Err == sarama.ErrNoError {
			out[p] = b.Offset
		}
	}
	return out, nil
}

// CaughtUp tells whether group has committed every topic up to its
// high-water mark. The marks are read before the offsets, so a true answer
// means every record written before the call is done.
func (c *cluster) CaughtUp(group string, topics ...string) (bool, error) {
	for _, t := range topics {
		hw, err := c.HighWater(t)
		if err != nil {
			return false, err
		}
		com, err := c.Committed(group, t)
		if err != nil {
			return false, err
		}
		for p, h := range hw {
			// An empty partition (h == 0) has nothing to commit.
			if max(com[p], 0) < h {
				return false, nil
			}
		}
	}
	return true, nil
}

// Stable tells whether group has members and a settled assignment.
func (c *cluster) Stable(group string) (bool, error) {
	ds, err := c.admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.GroupId == group && d.State == "Stable" && len(d.Members) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// Lag sums, over topic's partitions, the records not yet committed by group.
func (c *cluster) Lag(group, topic string) (int64, error) {
	hw, err := c.HighWater(topic)
	if err != nil {
		return 0, err
	}
	com, err := c.Committed(group, topic)
	if err != nil {
		return 0, err
	}
	var lag int64
	for p, h := range hw {
		lag += h - max(com[p], 0)
	}
	return lag, nil
}

// sumOffsets adds a partition → offset map.
func sumOffsets(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
