package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/dlq"
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
		sup:     newSupervisor(deps.Logger, deps.Registerer, deps.Now),
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
	if fl, ok := deps.Matcher.(fieldLister); ok {
		if names, all := fl.Fields(); !all {
			p.ruleNames = append([]string{}, names...) // non-nil even when empty
		}
	}
	if deps.Key != nil {
		if names, all := deps.Key.Fields(); !all {
			p.keyNames = append([]string{}, names...)
		}
	}
	if cfg.CacheTTL > 0 {
		p.cache = newAnswerCache(cfg.CacheSize, cfg.CacheTTL, deps.Now, deps.Registerer)
	}
	p.ptime, _ = parsePartitionTime(cfg.PartitionTime) // validated above
	p.ptimeNames = []string{p.ptime.field}
	p.ownKeys = []string{MetaField, cfg.EnrichField}
	p.pickNames = p.ruleNames
	if p.ptime.mode == partitionTimeField {
		if p.ruleNames != nil && !slices.Contains(p.ruleNames, p.ptime.field) {
			p.pickNames = append(slices.Clip(p.ruleNames), p.ptime.field)
		}
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
	if data != nil && len(data) == 0 {
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

// errClaimEnded is why a record is let go whose value was dropped with its
// session (valueStore).
var errClaimEnded = errors.New("its session ended before goka delivered it")

// consume is the goka callback for both inputs. It never blocks on I/O:
// it registers the record's deferred commit and hands the record on.
func (p *Processor) consume(ctx goka.Context, msg any) {
	part := p.partitionFor(ctx.Context(), ctx.Partition())
	value, _ := msg.([]byte)
	held := true
	if p.values != nil && value != nil {
		value, held = p.values.take(string(ctx.Topic()), ctx.Partition(), ctx.Offset())
	}
	rec := &record{
		part:     part,
		topic:    string(ctx.Topic()),
		offset:   ctx.Offset(),
		key:      []byte(ctx.Key()),
		value:    value,
		fetched:  p.values != nil,
		size:     recordCost([]byte(ctx.Key()), value),
		received: p.now(),
		ts:       ctx.Timestamp(),
	}
	if ctx.Key() == "" {
		rec.key = nil
	}
	rec.env.Origin = dlq.Origin{Topic: rec.topic, Partition: ctx.Partition(), Offset: rec.offset}
	if rec.ts.Unix() > 0 {
		// Carried in the envelope through the DLQ and parking, whose
		// copies have timestamps of their own (recordTime).
		rec.env.OriginTime = rec.ts
	}
	part.track(rec, ctx.DeferCommit())
	if !held {
		// Its session was cleaned up before goka delivered it, and the
		// value with it: the partition is revoked. Read again after the
		// rejoin.
		part.letGo(rec, errClaimEnded)
		return
	}
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
			rec.env = dlq.Envelope{Origin: env.Origin, Replayed: env.Replayed, OriginTime: env.OriginTime}
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
	if p.deps.Matcher == nil || p.ruleNames == nil {
		// Otherwise ruleFields validates in the pass that picks the fields.
		if err := p.validate(rec); err != nil {
			p.park(rec, ClassMalformed, err)
			return
		}
	}
	if p.deps.Matcher == nil {
		p.toSink(rec, nil)
		return
	}
	match, class, err := p.match(rec)
	if err != nil {
		p.park(rec, class, err)
		return
	}
	if !match {
		p.toSink(rec, nil)
		return
	}
	p.enrich(rec)
}

// match decodes what the rule reads and asks the rule; on an error, class
// says why the record is parked. When the rule says which fields it reads,
// only those are decoded, in the pass that checks that the value is a JSON
// object (picking the partition-time field with them), into a pooled map:
// the rule keeps nothing of it. Otherwise the whole record is decoded.
func (p *Processor) match(rec *record) (match bool, class string, err error) {
	var fields map[string]any
	if p.ruleNames == nil {
		if fields, err = decodeFields(rec.value); err != nil {
			return false, ClassMalformed, err
		}
	} else {
		fields = p.fieldMaps.Get().(map[string]any)
		defer func() { clear(fields); p.fieldMaps.Put(fields) }()
		if err := p.scan(rec, &scanner{}, p.pickNames, fields); err != nil {
			return false, ClassMalformed, err
		}
		v, present := fields[p.ptime.field]
		p.stampTime(rec, v, present)
	}
	if match, err = p.deps.Matcher.Match(fields); err != nil {
		return false, ClassRuleError, err
	}
	return match, "", nil
}

// validate checks that rec's value is a JSON object and, in the same pass,
// picks its partition-time field when there is one, and stamps its time.
func (p *Processor) validate(rec *record) error {
	if p.ptime.mode != partitionTimeField {
		if err := p.scan(rec, &scanner{}, nil, nil); err != nil {
			return err
		}
		p.stampTime(rec, nil, false)
		return nil
	}
	var raws [1][]byte
	if err := p.scan(rec, &scanner{rawNames: p.ptimeNames, raws: raws[:]}, nil, nil); err != nil {
		return err
	}
	raw := raws[0]
	if raw == nil {
		p.stampTime(rec, nil, false)
		return nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		return fmt.Errorf("decoding field %s: %w", p.ptime.field, err)
	}
	p.stampTime(rec, v, true)
	return nil
}

// scan is the one pass over a record that routing makes (scanObject with
// names and out, or pickRaws with s's rawNames), noting the record's shape
// for its output line as it goes.
func (p *Processor) scan(rec *record, s *scanner, names []string, out map[string]any) error {
	s.ownKeys = p.ownKeys
	err := s.top(rec.value, names, out)
	rec.shape = s.shape | shapeKnown
	return err
}

// fieldLister is implemented by rules that know which fields they read
// (enrich.Rule).
type fieldLister interface {
	Fields() (names []string, all bool)
}

// routeDue routes a DLQ record: held until its not-before time, then
// enriched again. A DLQ record always needed enrichment.
func (p *Processor) routeDue(rec *record) {
	if err := p.validate(rec); err != nil {
		p.park(rec, ClassMalformed, err)
		return
	}
	if p.deps.Enricher == nil && p.deps.Table == nil {
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
