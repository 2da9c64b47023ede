package pipeline

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

// RetentionMargin is added to --max-age and --retry-max-delay to give the
// shortest retention a DLQ topic may have (MinDLQRetention): an hour for
// redrive being behind, restarting or rolling out while a record waits.
const RetentionMargin = time.Hour

// CreatedDLQRetention is the least retention.ms a DLQ topic created by
// --create-topics gets: Kafka's own default (7 days), or MinDLQRetention when
// that is longer, so that redrive may be stopped for days without a record
// that waits for its retry being deleted.
const CreatedDLQRetention = 7 * 24 * time.Hour

// MinDLQRetention is the shortest retention a DLQ topic may have under the
// retry policy p: a record stays in the retry cycle for up to p.MaxAge after
// its first failure, its last trip waits up to p.MaxDelay more, and
// RetentionMargin covers redrive being behind. A shorter retention lets
// Kafka delete a record that still waits for its retry, which is data loss,
// so start-up refuses it (EnsureTopics).
func MinDLQRetention(p dlq.Policy) time.Duration {
	p.SetDefaults()
	return p.MaxAge + p.MaxDelay + RetentionMargin
}

// topicConfig is what start-up reads of a topic's configuration, in the
// same DescribeConfigs request per topic.
type topicConfig struct {
	maxMessageBytes int
	// retention is retention.ms; negative when unlimited (-1), zero when
	// the broker did not report it.
	retention time.Duration
	// retentionBytes is retention.bytes; negative when unlimited.
	retentionBytes int64
	// cleanupPolicy is cleanup.policy as Kafka reports it ("delete",
	// "compact" or "compact,delete").
	cleanupPolicy string
}

// topicConfigNames are the configs topicConfig reads.
var topicConfigNames = []string{"max.message.bytes", "retention.ms", "retention.bytes", "cleanup.policy"}

// compacted reports whether the topic's cleanup.policy includes compact:
// compaction keeps only the newest record of each key, so of a key's
// records waiting in the DLQ or parked, all but one would be deleted.
func (c topicConfig) compacted() bool {
	for _, p := range strings.Split(c.cleanupPolicy, ",") {
		if strings.TrimSpace(p) == "compact" {
			return true
		}
	}
	return false
}

// DLQTopicConfig is the configuration --create-topics gives a DLQ topic
// beside an input topic whose max.message.bytes is inputMaxBytes (0:
// Kafka's default), under the retry policy p: room for any input record plus
// redrive's headers, cleanup.policy=delete, and a retention of at least
// MinDLQRetention(p) (CreatedDLQRetention when that is longer).
func DLQTopicConfig(inputMaxBytes int, p dlq.Policy) map[string]*string {
	c := RetryTopicConfig(inputMaxBytes)
	retention := strconv.FormatInt(max(MinDLQRetention(p), CreatedDLQRetention).Milliseconds(), 10)
	c["retention.ms"] = &retention
	c["cleanup.policy"] = ptr("delete")
	return c
}

// ParkingTopicConfig is the configuration --create-topics gives a parking
// topic: room for any input record plus redrive's headers, unlimited
// retention (retention.ms=-1: a parked record waits for a person, who may
// take longer than any retention) and cleanup.policy=delete.
func ParkingTopicConfig(inputMaxBytes int) map[string]*string {
	c := RetryTopicConfig(inputMaxBytes)
	c["retention.ms"] = ptr("-1")
	c["cleanup.policy"] = ptr("delete")
	return c
}

// withReplication adds min.insync.replicas=2 to a created topic's
// configuration when it has three replicas or more, so that an
// acknowledged write (redrive's producer waits for all in-sync replicas)
// survives the loss of a broker.
func withReplication(c map[string]*string, rf int16) map[string]*string {
	if rf < 3 {
		return c
	}
	if c == nil {
		c = map[string]*string{}
	}
	c["min.insync.replicas"] = ptr("2")
	return c
}

func ptr(s string) *string { return &s }

// checkRetention refuses a DLQ or parking topic that could delete a record
// redrive still needs, naming the topic, the config and the command to fix
// it, and warns (one line) about a parking topic whose retention is finite.
func checkRetention(log *slog.Logger, cfg Config, conf map[string]topicConfig) error {
	for _, t := range []struct{ flag, name string }{{"dlq-topic", cfg.DLQTopic}, {"parking-topic", cfg.ParkingTopic}} {
		if c := conf[t.name]; c.compacted() {
			return fmt.Errorf("%s: topic %q has cleanup.policy=%s, but compaction keeps only the newest record of each key, so records of one key waiting there would be deleted; set cleanup.policy=delete (kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=delete)",
				t.flag, t.name, c.cleanupPolicy, t.name)
		}
	}
	d := conf[cfg.DLQTopic]
	if need := MinDLQRetention(cfg.Retry); d.retention > 0 && d.retention < need {
		p := cfg.Retry
		p.SetDefaults()
		return fmt.Errorf("dlq-topic: topic %q has retention.ms=%d (%s), shorter than --max-age (%s) + --retry-max-delay (%s) + %s, so Kafka could delete a record that still waits for its retry; raise it to %d or more (kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config retention.ms=%d)",
			cfg.DLQTopic, d.retention.Milliseconds(), d.retention, p.MaxAge, p.MaxDelay, RetentionMargin, need.Milliseconds(), cfg.DLQTopic, need.Milliseconds())
	}
	if d.retentionBytes > 0 {
		log.Warn("DLQ topic has a finite retention.bytes: a backlog larger than it deletes records that still wait for their retry",
			"topic", cfg.DLQTopic, "config", "retention.bytes", "retention_bytes", d.retentionBytes)
	}
	p := conf[cfg.ParkingTopic]
	var finite []string
	if p.retention > 0 {
		finite = append(finite, "retention.ms="+strconv.FormatInt(p.retention.Milliseconds(), 10))
	}
	if p.retentionBytes > 0 {
		finite = append(finite, "retention.bytes="+strconv.FormatInt(p.retentionBytes, 10))
	}
	if len(finite) > 0 {
		log.Warn("parking topic retention is finite: parked records are deleted after it, whether or not someone looked at them; set retention.ms=-1 to keep them",
			"topic", cfg.ParkingTopic, "config", strings.Join(finite, ","), "retention", p.retention.String())
	}
	return nil
}
