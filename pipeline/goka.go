package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// StartOffset says where a group without committed offsets starts.
type StartOffset string

// Start offsets. goka's own default is newest; redrive defaults to oldest
// so that a new deployment does not silently skip what is already there.
const (
	StartOldest StartOffset = "oldest"
	StartNewest StartOffset = "newest"
)

// Options returns the goka options that make the processor run against a
// cluster with base's settings: every builder gets its own copy of the
// config (goka writes ClientID into it), the consumer group starts at start
// and is kept for Pause/Resume, and goka logs through slog.
func (p *Processor) Options(base *sarama.Config, start StartOffset) ([]goka.ProcessorOption, error) {
	cfg := *base
	switch start {
	case StartOldest, "":
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	case StartNewest:
		cfg.Consumer.Offsets.Initial = sarama.OffsetNewest
	default:
		return nil, fmt.Errorf("start-offset: %q is not oldest or newest", start)
	}
	// Commits are released by redrive only once a record is durable;
	// sarama's periodic auto-commit then flushes what was marked, and its
	// last commit on a clean stop flushes the rest.
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = p.cfg.CommitInterval
	// A pause lets through what was already fetched and buffered: up to
	// two fetch responses per partition (sarama feeds one while it holds
	// the next; Kafka returns at least one whole record batch each), this
	// channel buffer and goka's 10-message partition channel. Keep them
	// small so that the windows bound memory, not sarama's 1 MiB default.
	cfg.Consumer.Fetch.Default, cfg.Consumer.Fetch.Max, cfg.ChannelBufferSize = fetchSizes(p.cfg)
	p.values = &valueStore{} // groupBuilder wraps the group in copyingGroup
	fresh := func(clientID string) *sarama.Config {
		c := cfg
		c.ClientID = clientID
		return &c
	}
	groupBuilder := func(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
		c := fresh(clientID)
		p.cfg.applyGroup(c)
		c.Consumer.Interceptors = append(slices.Clip(c.Consumer.Interceptors), holdingInterceptor{p.values})
		// The group gets a client of its own that the supervisor can close
		// to abort a join that blocks a stop (see supervisedGroup).
		client, err := sarama.NewClient(brokers, c)
		if err != nil {
			return nil, err
		}
		cg, err := sarama.NewConsumerGroupFromClient(group, client)
		if err != nil {
			client.Close() //nolint:errcheck // the error above is the one to report
			return nil, err
		}
		go p.sup.drainErrors(cg.Errors())
		return &supervisedGroup{ConsumerGroup: closingGroup{copyingGroup{cg, &lagReporter{offsets: client, gauges: p.metrics.lag, interval: lagInterval}, p.values}, p.log}, sup: p.sup, client: client}, nil
	}
	consumerBuilder := func(brokers []string, clientID string) (sarama.Consumer, error) {
		return sarama.NewConsumer(brokers, fresh(clientID))
	}
	return []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(p.ConsumerGroupBuilder(groupBuilder)),
		goka.WithConsumerSaramaBuilder(consumerBuilder),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(fresh(cfg.ClientID))),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(fresh(cfg.ClientID+"-topics"), goka.NewTopicManagerConfig())),
		goka.WithLogger(gokaLogger{p.log.With("component", "goka")}),
		goka.WithRebalanceCallback(p.onAssignment),
		graphOptions,
	}, nil
}

// graphOptions are the goka options the graph needs to route as designed,
// with a cluster or goka's tester. goka's default drops a null value and
// commits its offset at once, past the records before it that may not be
// durable yet; the processor decides on tombstones itself
// (Config.Tombstones) and commits them in their turn.
var graphOptions = goka.WithNilHandling(goka.NilProcess)

// onAssignment runs in goka's session setup, before sarama starts the new
// session's partition consumers. sarama remembers pauses across sessions
// and re-applies them to a new partition consumer, while the pipeline's
// state for a newly assigned partition starts unpaused: a partition revoked
// while paused would come back paused for good. So every assigned
// partition starts resumed. It also logs one line per rebalance with the
// partitions this member owns (none: it stands by).
func (p *Processor) onAssignment(a goka.Assignment) {
	parts := make([]int32, 0, len(a))
	for id := range a {
		parts = append(parts, id)
	}
	slices.Sort(parts)
	p.groupMu.Lock()
	cg := p.group
	p.groupMu.Unlock()
	if cg != nil && len(parts) > 0 {
		cg.Resume(map[string][]int32{p.cfg.InputTopic: parts, p.cfg.DLQTopic: parts})
	}
	p.log.Info("partitions assigned", "partitions", parts, "standby", len(parts) == 0)
}

// fetchSizes sizes sarama's buffers from the windows: FetchBytes per
// partition and fetch; at most an eighth of MaxPendingBytesTotal per fetch
// response of one broker, so that what sarama holds does not grow with the
// number of partitions a broker leads for this process (Kafka still returns
// a first record batch larger than that whole); and a channel of at most
// 64 messages per partition, fewer when the record window is small.
func fetchSizes(c Config) (perPartition, perResponse int32, channel int) {
	perPartition = int32(c.FetchBytes)
	perResponse = int32(max(c.FetchBytes, c.MaxPendingBytesTotal/8))
	channel = min(64, max(1, c.MaxPending/16))
	return perPartition, perResponse, channel
}

// closingGroup keeps a stale consumption report from failing a clean stop.
// goka stops reading the group's error channel once its context ends, and
// sarama's Close drains that channel and returns the last report it finds
// there: a partition consumer that once could not reach a broker that has
// since come back, or a failed offset commit. sarama has already retried
// what such a report describes, and redrive's commits never run ahead of
// S3, so at worst records are read again on restart, never lost. It is
// logged, not returned: otherwise a SIGTERM that flushed everything would
// still exit non-zero. Any other error from Close is returned.
type closingGroup struct {
	sarama.ConsumerGroup
	log *slog.Logger
}

func (g closingGroup) Close() error {
	err := g.ConsumerGroup.Close()
	if ce := (*sarama.ConsumerError)(nil); errors.As(err, &ce) {
		g.log.Warn("consumer group closed after an error report; uncommitted records are read again on restart, none lost", "err", err)
		return nil
	}
	return err
}

// gokaLogger sends goka's log lines to slog at info level.
type gokaLogger struct{ l *slog.Logger }

func (g gokaLogger) Print(v ...any)                 { g.l.Info(fmt.Sprint(v...)) }
func (g gokaLogger) Println(v ...any)               { g.l.Info(fmt.Sprint(v...)) }
func (g gokaLogger) Printf(format string, v ...any) { g.l.Info(fmt.Sprintf(format, v...)) }
