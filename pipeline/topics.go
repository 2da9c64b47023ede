package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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

// SetDefaults fills zero fields with their documented defaults.
func (t *Topics) SetDefaults() {
	t.Partitions = cmp.Or(t.Partitions, 8)
	t.ReplicationFactor = cmp.Or(t.ReplicationFactor, 1)
}

// HeaderRoom is what the DLQ and parking topics must take beyond the input
// topic's largest record: redrive's envelope headers (the error message in
// them is capped at 1 KiB) with a wide margin.
const HeaderRoom = 8 << 10

// TopicInfo is what start-up learned about the topics. It is passed to the
// processor beside its Config, which stays what the user gave.
type TopicInfo struct {
	// ParkingPartitions is the parking topic's partition count; a parked
	// record goes to partition (source partition mod ParkingPartitions).
	// Zero is taken as 1.
	ParkingPartitions int32
	// MaxMessageBytes is each topic's max.message.bytes, by name; absent
	// when unknown.
	MaxMessageBytes map[string]int
}

// EnsureTopics checks that the input, DLQ and parking topics exist (creating
// them when asked), that the input and DLQ topics have the same partition
// count, and that the DLQ and parking topics take any record the input
// topic takes plus redrive's headers (invariant 9): a created DLQ or
// parking topic gets max.message.bytes large enough, an existing one that
// is too small is refused, naming the topic and the setting to change. The
// DLQ and parking topics must also keep every record redrive still needs
// (checkRetention): a created one gets a safe retention and cleanup.policy
// (DLQTopicConfig, ParkingTopicConfig), an existing one that could delete a
// waiting record is refused, and a parking topic with a finite retention
// is logged as a warning on log.
func EnsureTopics(log *slog.Logger, admin sarama.ClusterAdmin, cfg Config, t Topics) (TopicInfo, error) {
	t.SetDefaults()
	names := []string{cfg.InputTopic, cfg.DLQTopic, cfg.ParkingTopic}
	flags := []string{"input-topic", "dlq-topic", "parking-topic"}
	metas, err := admin.DescribeTopics(names)
	if err != nil {
		return TopicInfo{}, fmt.Errorf("describing topics %s: %w", strings.Join(names, ", "), err)
	}
	counts := map[string]int32{}
	created := false
	for _, m := range metas {
		switch {
		case errors.Is(m.Err, sarama.ErrUnknownTopicOrPartition):
			counts[m.Name] = 0
		case m.Err != sarama.ErrNoError:
			return TopicInfo{}, fmt.Errorf("describing topic %s: %w", m.Name, m.Err)
		default:
			counts[m.Name] = int32(len(m.Partitions))
		}
	}
	// The DLQ must be copartitioned with the input topic: a created DLQ
	// takes the input topic's count when that one exists.
	if n := counts[cfg.InputTopic]; n > 0 {
		t.Partitions = n
	}
	info := TopicInfo{MaxMessageBytes: map[string]int{}}
	conf := map[string]topicConfig{}
	for i, name := range names {
		if counts[name] == 0 {
			if !t.Create {
				return TopicInfo{}, fmt.Errorf("%s: topic %q does not exist; create it (with as many partitions as the input topic for the DLQ) or pass --create-topics", flags[i], name)
			}
			detail := &sarama.TopicDetail{NumPartitions: t.Partitions, ReplicationFactor: t.ReplicationFactor}
			// The input topic is created or read first: the DLQ and
			// parking topics must take its largest record.
			switch name {
			case cfg.DLQTopic:
				detail.ConfigEntries = DLQTopicConfig(info.MaxMessageBytes[cfg.InputTopic], cfg.Retry)
			case cfg.ParkingTopic:
				detail.ConfigEntries = ParkingTopicConfig(info.MaxMessageBytes[cfg.InputTopic])
			}
			detail.ConfigEntries = withReplication(detail.ConfigEntries, t.ReplicationFactor)
			err := admin.CreateTopic(name, detail, false)
			if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
				return TopicInfo{}, fmt.Errorf("%s: creating topic %q: %w", flags[i], name, err)
			}
			counts[name] = t.Partitions
			created = true
		}
		c, err := describeTopic(admin, name)
		if err != nil {
			return TopicInfo{}, fmt.Errorf("%s: %w", flags[i], err)
		}
		info.MaxMessageBytes[name] = c.maxMessageBytes
		conf[name] = c
	}
	if created {
		// A created topic is not in every broker's metadata at once, and
		// goka fails start-up on a topic it cannot see.
		if err := waitForLeaders(admin, names); err != nil {
			return TopicInfo{}, err
		}
	}
	if in, dlq := counts[cfg.InputTopic], counts[cfg.DLQTopic]; t.Create && dlq < in {
		// Partitions were added to the input topic: the DLQ follows, as
		// --create-topics would have made it. Its records stay where
		// they are; a record's DLQ partition is its input partition.
		if err := admin.CreatePartitions(cfg.DLQTopic, in, nil, false); err != nil {
			return TopicInfo{}, fmt.Errorf("dlq-topic: growing %q from %d to %d partitions, as the input topic %q has: %w", cfg.DLQTopic, dlq, in, cfg.InputTopic, err)
		}
		log.Warn("grew the DLQ topic to the input topic's partition count", "dlq_topic", cfg.DLQTopic, "from", dlq, "to", in, "input_topic", cfg.InputTopic)
		counts[cfg.DLQTopic] = in
		if err := waitForLeaders(admin, []string{cfg.DLQTopic}); err != nil {
			return TopicInfo{}, err
		}
	}
	if counts[cfg.InputTopic] != counts[cfg.DLQTopic] {
		return TopicInfo{}, fmt.Errorf("dlq-topic: %q has %d partitions but input topic %q has %d; they must match so that a key's retries stay on its partition (kafka-topics.sh --alter --topic %s --partitions %d, or --create-topics, which grows the DLQ)",
			cfg.DLQTopic, counts[cfg.DLQTopic], cfg.InputTopic, counts[cfg.InputTopic], cfg.DLQTopic, counts[cfg.InputTopic])
	}
	in := info.MaxMessageBytes[cfg.InputTopic]
	for i, name := range names[1:] {
		if need := in + HeaderRoom; info.MaxMessageBytes[name] < need {
			return TopicInfo{}, fmt.Errorf("%s: topic %q has max.message.bytes=%d, but it must take any record the input topic %q takes (max.message.bytes=%d) plus %d bytes of redrive headers, or a record could have nowhere to go; raise it to %d or more (kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config max.message.bytes=%d)",
				flags[i+1], name, info.MaxMessageBytes[name], cfg.InputTopic, in, HeaderRoom, need, name, need)
		}
	}
	if err := checkRetention(log, cfg, conf); err != nil {
		return TopicInfo{}, err
	}
	info.ParkingPartitions = counts[cfg.ParkingTopic]
	return info, nil
}

// partitionsHint says what to do when the input and DLQ topics' partition
// counts part (FaultPartitions).
func partitionsHint(cfg Config) string {
	return fmt.Sprintf("the DLQ topic %q must have as many partitions as the input topic %q: grow it (kafka-topics.sh --alter --topic %s --partitions N, N the input's count), or restart redrive with --create-topics, which grows it; until then no partition is consumed",
		cfg.DLQTopic, cfg.InputTopic, cfg.DLQTopic)
}

// DefaultMaxMessageBytes is Kafka's default max.message.bytes (the
// broker's message.max.bytes).
const DefaultMaxMessageBytes = 1048588

// RetryTopicConfig is the size part of DLQTopicConfig and
// ParkingTopicConfig: the max.message.bytes a DLQ or parking topic needs
// beside an input topic whose max.message.bytes is inputMaxBytes (0:
// Kafka's default), room for any input record plus redrive's headers.
func RetryTopicConfig(inputMaxBytes int) map[string]*string {
	inputMaxBytes = cmp.Or(inputMaxBytes, DefaultMaxMessageBytes)
	limit := strconv.Itoa(inputMaxBytes + HeaderRoom)
	return map[string]*string{"max.message.bytes": &limit}
}

// WriteMaxBytes is the largest record the DLQ producer should send: the
// smaller of the DLQ and parking topics' limits (0 when unknown).
func (t TopicInfo) WriteMaxBytes(cfg Config) int {
	d, p := t.MaxMessageBytes[cfg.DLQTopic], t.MaxMessageBytes[cfg.ParkingTopic]
	if d == 0 || p == 0 {
		return max(d, p)
	}
	return min(d, p)
}

// describeTopic reads a topic's effective max.message.bytes, retention and
// cleanup.policy (its own settings or the broker's defaults) in one
// request.
func describeTopic(admin sarama.ClusterAdmin, topic string) (topicConfig, error) {
	var entries []sarama.ConfigEntry
	var err error
	// A topic created a moment ago may not be known to the broker that
	// answers yet.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		entries, err = admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: topicConfigNames})
		if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return topicConfig{}, fmt.Errorf("reading the configuration of topic %q: %w", topic, err)
	}
	c := topicConfig{retentionBytes: -1}
	for _, e := range entries {
		var n int64
		switch e.Name {
		case "max.message.bytes", "retention.ms", "retention.bytes":
			if n, err = strconv.ParseInt(e.Value, 10, 64); err != nil {
				return topicConfig{}, fmt.Errorf("topic %q: %s=%q: %w", topic, e.Name, e.Value, err)
			}
		}
		switch e.Name {
		case "max.message.bytes":
			c.maxMessageBytes = int(n)
		case "retention.ms":
			c.retention = time.Duration(n) * time.Millisecond
			if n < 0 {
				c.retention = -1
			}
		case "retention.bytes":
			c.retentionBytes = n
		case "cleanup.policy":
			c.cleanupPolicy = e.Value
		}
	}
	if c.maxMessageBytes == 0 {
		return topicConfig{}, fmt.Errorf("topic %q: the broker did not report max.message.bytes", topic)
	}
	return c, nil
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
