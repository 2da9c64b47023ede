package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/ctxwait"
	"github.com/redrive-io/redrive/schema"
	"github.com/redrive-io/redrive/sinks"
)

// Matcher decides whether a record needs enrichment (enrich.Rule). Match
// must not keep fields once it returns: the map is reused.
type Matcher interface {
	Match(fields map[string]any) (bool, error)
}

// Enricher calls the enrichment API (enrich.Client). Its errors are
// classified by the enrich package.
type Enricher interface {
	Enrich(ctx context.Context, value []byte, fields map[string]any) (json.RawMessage, error)
}

// Sink stores output lines durably (sinks.Batcher). Add copies an item's
// Line and Tail before it returns.
type Sink interface {
	Add(it sinks.Item)
	Seal(topic string, partition int32)
	FlushPartition(ctx context.Context, topic string, partition int32) error
}

// Deps are the processor's collaborators.
type Deps struct {
	Matcher  Matcher  // nil: no record is enriched
	Enricher Enricher // required when Matcher is set, unless Table answers misses (Config.LookupMiss)
	// Table is the lookup table tried before the API; nil: none.
	Table TableReader
	// Key computes a record's lookup key (enrich.Key): required with
	// Table; without it the cache keys on the request (RequestKey).
	Key  Keyer
	Sink Sink
	// Schema, when set, makes the output Parquet rows of this schema
	// (sinks.Item.Row) instead of JSON Lines; a record that does not fit
	// it is parked as ClassSchemaMismatch.
	Schema    *schema.Schema
	Forwarder Forwarder
	// Topics is what start-up learned about the topics (EnsureTopics).
	Topics TopicInfo
	Logger *slog.Logger
	// Registerer receives the processor's metrics; nil uses a private registry.
	Registerer prometheus.Registerer
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Processor routes records of the main and DLQ topics. Build it with New,
// pass Graph and Options to goka.NewProcessor, and call Wait after the goka
// processor's Run returned.
type Processor struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	sup     *supervisor
	stats   Stats
	parkLog *logSampler // one "record parked" line per class per 10s
	// ruleNames are the fields the rule reads, nil when it may read any.
	ruleNames []string
	// ptime is Config.PartitionTime parsed; pickNames are the fields
	// picked for the rule (ruleNames with the time field in "field" mode),
	// so that the one pass over a record that validates it also picks its
	// time.
	ptime      partitionTime
	ptimeNames []string // the partition-time field alone, for pickRaws
	pickNames  []string
	// ownKeys are the keys redrive writes into output lines: MetaField and
	// the enrichment field (scanner.ownKeys).
	ownKeys []string
	// enricherNeedsFields: the enricher reads decoded fields (URL
	// templates); true unless it says otherwise.
	enricherNeedsFields bool
	// keyNames are the fields the lookup key reads, nil when it may read
	// any.
	keyNames []string
	// keyInPass: the key's fields are picked in the rule's pass (planScan),
	// and match computes the key of a record it matches.
	keyInPass bool
	// cache keeps the API's answers (Config.CacheTTL); nil: none.
	cache *answerCache

	// values is set by Options, whose consumer group copies every value
	// out of its fetch and hands goka an empty one (copyingGroup): consume
	// takes the value from here, and toSink may build the output line in
	// the value's own buffer. Nil for values from elsewhere (goka's tester,
	// other builders), which goka carries and which are left untouched.
	values *valueStore

	groupMu sync.Mutex
	group   sarama.ConsumerGroup // captured from goka's builder, for Pause/Resume

	partsMu sync.Mutex
	parts   map[int32]*partition
	owned   atomic.Int32 // partitions not yet fully revoked: they share MaxPendingBytesTotal

	work *workQueue
	wg   sync.WaitGroup // partition watchers and enrichment workers

	// tails pools the buffers output lines' tails are built in (toSink):
	// the sink copies a line while Add runs. fieldMaps pools the maps the
	// rule's fields are decoded into (match).
	tails, fieldMaps sync.Pool
}

// New checks the configuration and returns a processor.
func New(cfg Config, deps Deps) (*Processor, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Sink == nil || deps.Forwarder == nil {
		return nil, errors.New("pipeline: Sink and Forwarder are required")
	}
	if deps.Matcher != nil && deps.Enricher == nil && (deps.Table == nil || cfg.LookupMiss == LookupMissAPI) {
		return nil, errors.New("pipeline: an enrichment rule needs an Enricher (or a Table with LookupMiss retry or pass)")
	}
	if deps.Table != nil && deps.Key == nil {
		return nil, errors.New("pipeline: a lookup Table needs a Key")
	}
	if cfg.CacheTTL > 0 && deps.Enricher == nil {
		return nil, errors.New("cache-ttl: needs --enrich-url (it caches the API's answers)")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	if deps.Topics.ParkingPartitions < 1 {
		deps.Topics.ParkingPartitions = 1
	}
	p := &Processor{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Logger,
		now:     deps.Now,
		metrics: newMetrics(deps.Registerer),
		sup:     newSupervisor(deps.Logger, deps.Registerer, deps.Now, map[KafkaFault]string{FaultPartitions: partitionsHint(cfg)}),
		parkLog: newLogSampler(10*time.Second, deps.Now),
		parts:   map[int32]*partition{},
	}
	p.tails.New = func() any { b := make([]byte, 0, 512); return &b }
	p.fieldMaps.New = func() any { return make(map[string]any, len(p.pickNames)) }
	p.metrics.latencyInput = p.metrics.latency.WithLabelValues(cfg.InputTopic)
	p.metrics.latencyDLQ = p.metrics.latency.WithLabelValues(cfg.DLQTopic)
	if err := deps.Registerer.Register(newPendingAge(p)); err != nil {
		return nil, fmt.Errorf("pipeline: registering metrics: %w", err)
	}
	p.work = &workQueue{limit: cfg.EnrichWorkers, run: p.callAPI, wg: &p.wg}
	p.enricherNeedsFields = true
	if nf, ok := deps.Enricher.(interface{ NeedsFields() bool }); ok {
		p.enricherNeedsFields = nf.NeedsFields()
	}
	if deps.Key != nil {
		if names, all := deps.Key.Fields(); !all {
			p.keyNames = append([]string{}, names...)
		}
	}
	p.planScan()
	if cfg.CacheTTL > 0 {
		p.cache = newAnswerCache(cfg.CacheSize, cfg.CacheTTL, deps.Now, deps.Registerer)
	}
	return p, nil
}

// Graph is the goka group graph: the main and DLQ topics as inputs of one
// group, values as raw bytes (redrive decodes them itself so that a bad
// record is parked instead of failing the processor).
func (p *Processor) Graph() *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(p.cfg.Group),
		goka.Input(goka.Stream(p.cfg.InputTopic), new(valueCodec), p.consume),
		goka.Input(goka.Stream(p.cfg.DLQTopic), new(valueCodec), p.consume),
	)
}

// valueCodec is goka's codec.Bytes without an allocation for the empty
// value copyingGroup hands goka in place of every record's (converting a
// slice to an interface allocates; emptyAny is converted once).
type valueCodec struct{ codec.Bytes }

func (*valueCodec) Decode(data []byte) (any, error) {
	if isStandIn(data) {
		return emptyAny, nil
	}
	return data, nil
}

var emptyAny any = emptyValue

// ConsumerGroupBuilder wraps goka's builder to keep the consumer group,
// whose Pause and Resume stop fetching one topic-partition.
func (p *Processor) ConsumerGroupBuilder(base goka.ConsumerGroupBuilder) goka.ConsumerGroupBuilder {
	return func(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
		cg, err := base(brokers, group, clientID)
		if err == nil {
			p.groupMu.Lock()
			p.group = cg
			p.groupMu.Unlock()
		}
		return cg, err
	}
}

// SessionUp reports whether the consumer-group session is set up and
// consuming: the readiness of the process.
func (p *Processor) SessionUp() bool { return p.sup.Up() }

// Progressing reports whether the session supervisor is alive and has been
// up or tried to join within stall: the liveness of the process.
func (p *Processor) Progressing(stall time.Duration) bool { return p.sup.Progressing(stall) }

// Stats returns the running totals, for progress reports.
func (p *Processor) Stats() Snapshot { return p.stats.snapshot() }

// Wait blocks until every goroutine the processor started has finished.
// Call it after goka's Run returned: by then every partition was revoked.
func (p *Processor) Wait() { p.wg.Wait() }

// WaitContext is Wait bounded by ctx: it reports whether every goroutine
// finished before ctx ended.
func (p *Processor) WaitContext(ctx context.Context) bool {
	return ctxwait.Group(ctx, &p.wg) == nil
}

// windowBytes is a partition's byte window: MaxPendingBytes, or its share
// of MaxPendingBytesTotal when that is smaller.
func (p *Processor) windowBytes() int {
	share := p.cfg.MaxPendingBytesTotal / max(int(p.owned.Load()), 1)
	return min(p.cfg.MaxPendingBytes, share)
}

// seal asks the sink to upload a partition's open batches now. The caller
// must not hold the partition's lock: a batch that cannot be built calls
// its records' Done at once.
func (p *Processor) seal(partition int32) {
	p.deps.Sink.Seal(p.cfg.InputTopic, partition)
	p.deps.Sink.Seal(p.cfg.DLQTopic, partition)
}

// pause stops or resumes fetching of one topic-partition.
func (p *Processor) pause(topic string, partition int32, pause bool) {
	p.groupMu.Lock()
	cg := p.group
	p.groupMu.Unlock()
	if cg == nil {
		return
	}
	m := map[string][]int32{topic: {partition}}
	if pause {
		cg.Pause(m)
	} else {
		cg.Resume(m)
	}
}

// partitionFor returns the state of a partition for the session whose
// context is ctx, starting a new one when the partition was (re)assigned.
func (p *Processor) partitionFor(ctx context.Context, id int32) *partition {
	p.partsMu.Lock()
	defer p.partsMu.Unlock()
	if part, ok := p.parts[id]; ok && part.ctx == ctx {
		return part
	}
	part := newPartition(p, ctx, id)
	p.parts[id] = part
	p.owned.Add(1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-ctx.Done()
		part.revoke()
		p.owned.Add(-1)
		p.partsMu.Lock()
		if p.parts[id] == part {
			delete(p.parts, id)
		}
		p.partsMu.Unlock()
	}()
	p.log.Debug("partition started", "partition", id)
	return part
}

// logPause logs one line per pause state change and updates its gauge.
func (p *Processor) logPause(topic string, partition int32, paused bool, pending, held int) {
	v := 0.0
	msg := "fetching resumed"
	if paused {
		v, msg = 1, "fetching paused: window full"
	}
	p.metrics.paused.WithLabelValues(topic, partitionLabel(partition)).Set(v)
	p.log.Info(msg, "topic", topic, "partition", partition, "pending", pending, "waiting", held)
}
