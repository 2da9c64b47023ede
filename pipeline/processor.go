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

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/sinks"
)

// Config is the declarative part of the processor.
type Config struct {
	// Group is the consumer group shared by every redrive pod. Required.
	Group string
	// InputTopic, DLQTopic and ParkingTopic name the topics. Required and
	// distinct. The input and DLQ topics must have the same partition count
	// (goka copartitions them).
	InputTopic, DLQTopic, ParkingTopic string
	// ParkingPartitions is the parking topic's partition count; a parked
	// record goes to partition (source partition mod ParkingPartitions).
	// Default 1.
	ParkingPartitions int32
	// EnrichField is the output key under which the API's answer is stored.
	// Default "enrichment".
	EnrichField string
	// MaxRecordBytes parks records whose value is larger. Default 1 MiB.
	MaxRecordBytes int
	// MaxPending is the number of records per partition that may be in
	// enrichment or waiting for their S3 batch before fetching of that
	// partition pauses. Default 20000: twice the sink's default batch, so
	// that one batch fills while the previous one uploads.
	MaxPending int
	// MaxPendingBytes bounds the same window in bytes: goka keeps each
	// record until its commit is released, so this is what bounds memory
	// per partition. A record is charged its key and value plus a fixed
	// overhead (recordOverhead). Default 16 MiB: twice the sink's default
	// batch.
	MaxPendingBytes int
	// MaxPendingBytesTotal bounds the same bytes for the whole process:
	// each partition it owns gets an equal share when that is smaller than
	// MaxPendingBytes, so memory does not grow with the partitions a
	// process happens to own. Default 64 MiB.
	MaxPendingBytesTotal int
	// MaxWaiting is the number of not-yet-due DLQ records per partition held
	// in memory before fetching of that DLQ partition pauses. Default 1000.
	MaxWaiting int
	// EnrichWorkers is the number of goroutines that call the enricher.
	// Set it to the enricher's concurrency: more would only queue inside
	// the enricher. Default 32.
	EnrichWorkers int
	// Retry is the DLQ retry policy.
	Retry dlq.Policy
	// FetchBytes is how much one fetch returns per partition. Pausing a
	// partition stops future fetches only: what was fetched still arrives,
	// so this bounds how far a partition overshoots its window. Larger
	// records are still fetched whole. Default 256 KiB.
	FetchBytes int
	// CommitInterval is how often released offsets are committed to
	// Kafka. A crash re-reads what was durable but not yet committed, so
	// a shorter interval means fewer duplicates after a crash. Default 1s.
	CommitInterval time.Duration
	// RevokeFlushTimeout bounds how long a revoked partition waits for its
	// S3 batches; it must stay under goka's 60 s wait for deferred commits.
	// Default 30s.
	RevokeFlushTimeout time.Duration
}

// SetDefaults fills zero fields with their documented defaults.
func (c *Config) SetDefaults() {
	if c.ParkingPartitions == 0 {
		c.ParkingPartitions = 1
	}
	if c.EnrichField == "" {
		c.EnrichField = "enrichment"
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = 1 << 20
	}
	if c.MaxPending == 0 {
		c.MaxPending = 20000
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = 16 << 20
	}
	if c.MaxPendingBytesTotal == 0 {
		c.MaxPendingBytesTotal = 64 << 20
	}
	if c.MaxWaiting == 0 {
		c.MaxWaiting = 1000
	}
	if c.EnrichWorkers == 0 {
		c.EnrichWorkers = 32
	}
	if c.RevokeFlushTimeout == 0 {
		c.RevokeFlushTimeout = 30 * time.Second
	}
	if c.FetchBytes == 0 {
		c.FetchBytes = 256 << 10
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = time.Second
	}
	c.Retry.SetDefaults()
}

// Validate reports the first setting that cannot work, naming it.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("group: required")
	case c.InputTopic == "":
		return errors.New("input-topic: required")
	case c.DLQTopic == "":
		return errors.New("dlq-topic: required")
	case c.ParkingTopic == "":
		return errors.New("parking-topic: required")
	case c.InputTopic == c.DLQTopic || c.InputTopic == c.ParkingTopic || c.DLQTopic == c.ParkingTopic:
		return fmt.Errorf("input-topic, dlq-topic and parking-topic must differ (got %q, %q, %q)", c.InputTopic, c.DLQTopic, c.ParkingTopic)
	case c.MaxRecordBytes < 1:
		return fmt.Errorf("max-record-bytes: must be positive, got %d", c.MaxRecordBytes)
	case c.MaxPending < 1:
		return fmt.Errorf("max-pending: must be positive, got %d", c.MaxPending)
	case c.MaxPendingBytes < c.MaxRecordBytes:
		return fmt.Errorf("max-pending-bytes (%d) must be at least max-record-bytes (%d)", c.MaxPendingBytes, c.MaxRecordBytes)
	case c.MaxPendingBytesTotal < c.MaxRecordBytes:
		return fmt.Errorf("max-pending-bytes-total (%d) must be at least max-record-bytes (%d)", c.MaxPendingBytesTotal, c.MaxRecordBytes)
	case c.MaxWaiting < 1:
		return fmt.Errorf("max-waiting: must be positive, got %d", c.MaxWaiting)
	case c.FetchBytes < 1024:
		return fmt.Errorf("fetch-bytes: %d is too small (at least 1KiB)", c.FetchBytes)
	case c.CommitInterval < 10*time.Millisecond:
		return fmt.Errorf("commit-interval: %s is too short (at least 10ms)", c.CommitInterval)
	case c.EnrichWorkers < 1:
		return fmt.Errorf("enrich workers: must be positive, got %d", c.EnrichWorkers)
	case c.RevokeFlushTimeout >= 60*time.Second:
		return fmt.Errorf("revoke flush timeout %s must stay under goka's 60s wait", c.RevokeFlushTimeout)
	}
	if err := c.Retry.Validate(); err != nil {
		return fmt.Errorf("retry policy: %w", err)
	}
	return nil
}

// Matcher decides whether a record needs enrichment (enrich.Rule).
type Matcher interface {
	Match(fields map[string]any) (bool, error)
}

// Enricher calls the enrichment API (enrich.Client). Its errors are
// classified by the enrich package.
type Enricher interface {
	Enrich(ctx context.Context, value []byte, fields map[string]any) (json.RawMessage, error)
}

// Sink stores output lines durably (sinks.Batcher).
type Sink interface {
	Add(it sinks.Item)
	Seal(topic string, partition int32)
	FlushPartition(ctx context.Context, topic string, partition int32) error
}

// Deps are the processor's collaborators.
type Deps struct {
	Matcher   Matcher  // nil: no record is enriched
	Enricher  Enricher // required when Matcher is set
	Sink      Sink
	Forwarder Forwarder
	Logger    *slog.Logger
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
	stats   Stats
	parkLog *logSampler // one "record parked" line per class per 10s
	// ruleNames are the fields the rule reads, nil when it may read any.
	ruleNames []string
	// enricherNeedsFields: the enricher reads decoded fields (URL
	// templates); true unless it says otherwise.
	enricherNeedsFields bool

	groupMu sync.Mutex
	group   sarama.ConsumerGroup // captured from goka's builder, for Pause/Resume

	partsMu sync.Mutex
	parts   map[int32]*partition
	owned   atomic.Int32 // partitions not yet fully revoked: they share MaxPendingBytesTotal

	work *workQueue
	wg   sync.WaitGroup // partition watchers and enrichment workers
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
	if deps.Matcher != nil && deps.Enricher == nil {
		return nil, errors.New("pipeline: an enrichment rule needs an Enricher")
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
	p := &Processor{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Logger,
		now:     deps.Now,
		metrics: newMetrics(deps.Registerer),
		parkLog: newLogSampler(10*time.Second, deps.Now),
		parts:   map[int32]*partition{},
	}
	p.work = &workQueue{limit: cfg.EnrichWorkers, run: p.callAPI, wg: &p.wg}
	p.enricherNeedsFields = true
	if nf, ok := deps.Enricher.(interface{ NeedsFields() bool }); ok {
		p.enricherNeedsFields = nf.NeedsFields()
	}
	if fl, ok := deps.Matcher.(fieldLister); ok {
		if names, all := fl.Fields(); !all {
			p.ruleNames = append([]string{}, names...) // non-nil even when empty
		}
	}
	return p, nil
}

// Graph is the goka group graph: the main and DLQ topics as inputs of one
// group, values as raw bytes (redrive decodes them itself so that a bad
// record is parked instead of failing the processor).
func (p *Processor) Graph() *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(p.cfg.Group),
		goka.Input(goka.Stream(p.cfg.InputTopic), new(codec.Bytes), p.consume),
		goka.Input(goka.Stream(p.cfg.DLQTopic), new(codec.Bytes), p.consume),
	)
}

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

// Stats returns the running totals, for progress reports.
func (p *Processor) Stats() Snapshot { return p.stats.snapshot() }

// Wait blocks until every goroutine the processor started has finished.
// Call it after goka's Run returned: by then every partition was revoked.
func (p *Processor) Wait() { p.wg.Wait() }

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

// consume is the goka callback for both inputs. It never blocks on I/O:
// it registers the record's deferred commit and hands the record on.
func (p *Processor) consume(ctx goka.Context, msg any) {
	part := p.partitionFor(ctx.Context(), ctx.Partition())
	value, _ := msg.([]byte)
	rec := &record{
		part:     part,
		topic:    string(ctx.Topic()),
		offset:   ctx.Offset(),
		key:      []byte(ctx.Key()),
		value:    value,
		size:     recordCost([]byte(ctx.Key()), value),
		received: p.now(),
	}
	if ctx.Key() == "" {
		rec.key = nil
	}
	rec.env.Origin = dlq.Origin{Topic: rec.topic, Partition: ctx.Partition(), Offset: rec.offset}
	part.track(rec, ctx.DeferCommit())
	if ctx.Context().Err() != nil {
		// goka may deliver a record after the partition's context ended;
		// its batches are flushed already, so hand it on at once.
		p.handoff(rec)
		return
	}

	if rec.fromDLQ() {
		p.stats.inDLQ.Add(1)
		env, err := dlq.ParseMap(ctx.Headers())
		if err != nil {
			p.park(rec, ClassBadEnvelope, err)
			return
		}
		rec.env = env
		p.routeDue(rec)
		return
	}
	p.stats.in.Add(1)
	if _, replayed := ctx.Headers()[dlq.HeaderReplayed]; replayed {
		// A record an operator replayed from parking: a fresh start
		// (attempt 0) that keeps its origin, so downstream still
		// de-duplicates it against earlier copies.
		if env, err := dlq.ParseMap(ctx.Headers()); err == nil {
			rec.env = dlq.Envelope{Origin: env.Origin, Replayed: env.Replayed}
		}
	}
	p.routeFresh(rec)
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

// routeFresh routes a record of the main topic.
func (p *Processor) routeFresh(rec *record) {
	if len(rec.value) > p.cfg.MaxRecordBytes {
		p.park(rec, ClassOversize, fmt.Errorf("value of %d bytes exceeds max-record-bytes %d", len(rec.value), p.cfg.MaxRecordBytes))
		return
	}
	if err := validateObject(rec.value); err != nil {
		p.park(rec, ClassMalformed, err)
		return
	}
	if p.deps.Matcher == nil {
		p.toSink(rec, nil)
		return
	}
	fields, err := p.ruleFields(rec.value)
	if err != nil {
		p.park(rec, ClassMalformed, err)
		return
	}
	match, err := p.deps.Matcher.Match(fields)
	if err != nil {
		p.park(rec, ClassRuleError, err)
		return
	}
	if !match {
		p.toSink(rec, nil)
		return
	}
	p.enrich(rec)
}

// ruleFields decodes what the rule reads: only its fields when the rule
// says which they are, else the whole record.
func (p *Processor) ruleFields(value []byte) (map[string]any, error) {
	if p.ruleNames == nil {
		return decodeFields(value)
	}
	return pickFields(value, p.ruleNames)
}

// fieldLister is implemented by rules that know which fields they read
// (enrich.Rule).
type fieldLister interface {
	Fields() (names []string, all bool)
}

// routeDue routes a DLQ record: held until its not-before time, then
// enriched again. A DLQ record always needed enrichment.
func (p *Processor) routeDue(rec *record) {
	if err := validateObject(rec.value); err != nil {
		p.park(rec, ClassMalformed, err)
		return
	}
	if p.deps.Enricher == nil {
		// Enrichment was switched off since the record failed: it needs
		// none now.
		p.toSink(rec, nil)
		return
	}
	if rec.env.NotBefore.After(p.now()) {
		rec.part.hold(rec)
		return
	}
	p.enrich(rec)
}

// enrich queues a record for the API; the work queue's workers call it.
func (p *Processor) enrich(rec *record) {
	p.work.push(rec)
}

// callAPI is run by the work queue's workers.
func (p *Processor) callAPI(rec *record) {
	if err := rec.part.ctx.Err(); err != nil {
		// Revoked while queued: do not start a call that cannot finish.
		p.handoff(rec)
		return
	}
	// Fields are decoded here, just in time and only when the enricher
	// reads them: decoded maps of queued records were a large share of
	// memory under a backlog.
	var fields map[string]any
	if p.enricherNeedsFields {
		var err error
		if fields, err = decodeFields(rec.value); err != nil {
			p.park(rec, ClassMalformed, err)
			return
		}
	}
	start := p.now()
	answer, err := p.deps.Enricher.Enrich(rec.part.ctx, rec.value, fields)
	p.metrics.enrichSeconds.Observe(p.now().Sub(start).Seconds())
	p.enriched(rec, answer, err)
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
