package pipeline

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lovoo/goka"

	"github.com/redrive-io/redrive/dlq"
)

// Routing: what happens to each record goka delivers, up to the sink, the
// API's work queue, the wait room, the DLQ or parking (outcome.go).

// errClaimEnded is why a record is let go whose value was dropped with its
// session (valueStore).
var errClaimEnded = errors.New("its session ended before goka delivered it")

// consume is the goka callback for both inputs. It never blocks on I/O:
// it registers the record's deferred commit and hands the record on.
func (p *Processor) consume(ctx goka.Context, msg any) {
	part := p.partitionFor(ctx.Context(), ctx.Partition())
	value, _ := msg.([]byte)
	// fromStore: the value waited in copyingGroup's store, a slice of
	// its fetch; held is false when its session was cleaned up meanwhile.
	fromStore, held := p.values != nil && isStandIn(value), true
	if fromStore {
		value, held = p.values.take(string(ctx.Topic()), ctx.Partition(), ctx.Offset())
	}
	rec := &record{
		part:     part,
		topic:    string(ctx.Topic()),
		offset:   ctx.Offset(),
		key:      []byte(ctx.Key()),
		value:    value,
		fetched:  fromStore,
		size:     recordCost([]byte(ctx.Key()), value),
		received: p.now(),
		ts:       ctx.Timestamp(),
	}
	if ctx.Key() == "" {
		rec.key = nil
	}
	rec.headers = ctx.Headers()
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
		env, err := dlq.ParseMap(rec.headers)
		if err != nil {
			p.park(rec, ClassBadEnvelope, err)
			return
		}
		rec.env = env
		p.routeDue(rec)
		return
	}
	p.stats.in.Add(1)
	if rec.value == nil {
		p.tombstone(rec)
		return
	}
	if _, replayed := rec.headers[dlq.HeaderReplayed]; replayed {
		// A record an operator replayed from parking: a fresh start
		// (attempt 0) that keeps its origin, so downstream still
		// de-duplicates it against earlier copies.
		if env, err := dlq.ParseMap(rec.headers); err == nil {
			rec.env = dlq.Envelope{Origin: env.Origin, Replayed: env.Replayed, OriginTime: env.OriginTime}
		}
	}
	p.routeFresh(rec)
}

// tombstone parks or skips an input record with a null value (see
// Config.Tombstones). A skipped one is finished at once: its commit is
// released in its turn, behind the records before it.
func (p *Processor) tombstone(rec *record) {
	if p.cfg.Tombstones == TombstonesSkip {
		p.stats.skipped.Add(1)
		p.metrics.skipped.Inc()
		rec.part.finish(rec, nil)
		return
	}
	p.park(rec, ClassTombstone, errTombstone)
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
	if match && p.keyInPass {
		if rec.lookupKey, rec.hasKey, err = p.deps.Key.Of(fields); err != nil {
			return false, ClassRuleError, err
		}
		rec.keyKnown = true
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

// planScan decides what the one pass over each record picks (scan): the
// rule's fields, when it says which, and the partition-time field; and
// which keys it looks out for, those redrive writes into output lines.
func (p *Processor) planScan() {
	if fl, ok := p.deps.Matcher.(fieldLister); ok {
		if names, all := fl.Fields(); !all {
			p.ruleNames = append([]string{}, names...) // non-nil even when empty
		}
	}
	p.ptime, _ = parsePartitionTime(p.cfg.PartitionTime) // validated by New
	p.ptimeNames = []string{p.ptime.field}
	p.ownKeys = []string{MetaField, p.cfg.EnrichField}
	p.pickNames = p.ruleNames
	if p.ruleNames == nil {
		return // the rule decodes the whole record
	}
	if p.ptime.mode == partitionTimeField && !slices.Contains(p.pickNames, p.ptime.field) {
		p.pickNames = append(slices.Clip(p.pickNames), p.ptime.field)
	}
	// The lookup key's fields come in the same pass, so that a record
	// the rule matches is not scanned again for its key (lookupKey).
	p.keyInPass = p.keyNames != nil
	for _, name := range p.keyNames {
		if !slices.Contains(p.pickNames, name) {
			p.pickNames = append(slices.Clip(p.pickNames), name)
		}
	}
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
	if p.cache != nil && rec.cacheKey != "" {
		// A call for the same key, queued before this record, may have
		// answered while it waited for a worker: while the cache is cold
		// a third of the calls were such repeats (make bench, workload t).
		if answer, ok := p.cache.get(rec.cacheKey); ok {
			p.fromCache(rec, answer)
			return
		}
		p.cache.missed()
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
