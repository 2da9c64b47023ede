package pipeline

import (
	"encoding/json"

	"errors"
	"fmt"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/schema"
	"github.com/redrive-io/redrive/sinks"
)

// enriched decides a record's fate once the API answered (or did not).
func (p *Processor) enriched(rec *record, answer json.RawMessage, err error) {
	if rec.part.ctx.Err() != nil {
		// The partition was revoked meanwhile and its batches flushed: a
		// line added now would open a batch that holds the rebalance up
		// for its age. Hand the record on; the answer is asked again.
		p.handoff(rec)
		return
	}
	if err == nil {
		p.stats.enriched.Add(1)
		rec.source = SourceAPI
		if p.cache != nil && rec.cacheKey != "" {
			p.cache.add(rec.cacheKey, answer)
		}
		p.toSink(rec, answer)
		return
	}
	class := enrich.ClassOf(err)
	switch {
	case class == enrich.ClassCanceled:
		// Canceled without the partition being revoked: the processor is
		// stopping. Hand the record on unchanged.
		p.handoff(rec)
	case enrich.IsRetryable(err):
		p.toDLQ(rec, string(class), err)
	default:
		p.park(rec, string(class), err)
	}
}

// toDLQ sends a record that failed transiently around the DLQ, or parks
// it when the retry policy says it has had enough.
func (p *Processor) toDLQ(rec *record, class string, err error) {
	now := p.now()
	next, park, reason := p.cfg.Retry.Failed(rec.env, now, class, err)
	rec.env = next
	if park {
		p.forwardPark(rec, reason)
		return
	}
	// An API that said when to come back (Retry-After) is not asked
	// sooner, nor later than the policy's longest delay, which the DLQ's
	// retention is checked against.
	if asked := now.Add(min(enrich.RetryAfterOf(err), p.cfg.Retry.MaxDelay)); asked.After(rec.env.NotBefore) {
		rec.env.NotBefore = asked
	}
	p.metrics.dlqAttempt.Observe(float64(next.Attempt))
	p.stats.toDLQ.Add(1)
	p.metrics.dlq.Inc()
	p.forward(rec, p.cfg.DLQTopic, rec.part.id)
}

// toSink hands a record to the S3 sink; its commit is released once the
// batch holding it is durable.
func (p *Processor) toSink(rec *record, answer json.RawMessage) {
	meta := Meta{
		Topic:      rec.env.Origin.Topic,
		Partition:  rec.env.Origin.Partition,
		Offset:     rec.env.Origin.Offset,
		Attempt:    rec.env.Attempt,
		Enriched:   answer != nil,
		Source:     rec.source,
		LookupMiss: rec.lookupMiss,
		ReceivedAt: rec.received.UTC(),
		WrittenAt:  p.now().UTC(),
	}
	if !rec.env.FirstFailure.IsZero() {
		ff := rec.env.FirstFailure.UTC()
		meta.FirstFailure = &ff
	}
	if !rec.env.Replayed.IsZero() {
		rt := rec.env.Replayed.UTC()
		meta.ReplayedAt = &rt
	}
	item := sinks.Item{Topic: rec.topic, Partition: rec.part.id, Offset: rec.offset, Time: rec.partTime}
	if p.deps.Schema != nil {
		row, err := p.row(rec, answer, meta)
		if err != nil {
			p.park(rec, ClassSchemaMismatch, fmt.Errorf("does not fit --parquet-schema: %w", err))
			return
		}
		item.Row = row
	} else {
		tail := p.tails.Get().(*[]byte)
		defer p.putTail(tail)
		head, t, err := lineParts((*tail)[:0], rec.value, p.cfg.EnrichField, answer, meta, rec.shape)
		if err != nil {
			// The value was validated as a JSON object and the answer by
			// the enricher, so this is a bug; still, park rather than lose it.
			p.park(rec, ClassMalformed, fmt.Errorf("building output line: %w", err))
			return
		}
		item.Line, item.Tail = head, t
		if t != nil {
			*tail = t
		}
	}
	// The line or row is all the sink needs; drop the value so that the
	// record does not keep it alive.
	rec.value = nil
	if answer != nil {
		p.metrics.enriched.Inc()
	} else {
		p.metrics.direct.Inc()
	}
	latency := p.metrics.latencyInput
	if rec.fromDLQ() {
		latency = p.metrics.latencyDLQ
	}
	rec.part.toSink(rec)
	item.Done = func(err error) {
		if err == nil {
			p.stats.toSink.Add(1)
			observeLatency(latency, rec.ts, p.now())
		}
		rec.part.finish(rec, err)
	}
	p.deps.Sink.Add(item)
	rec.part.addedToSink(rec)
}

// putTail returns a tail buffer to the pool once the sink has copied the
// line (sinks.Item): unless a record rebuilt whole grew it past the size
// of a usual tail, so that the pool does not keep large buffers alive.
func (p *Processor) putTail(b *[]byte) {
	if cap(*b) <= maxPooledTail {
		p.tails.Put(b)
	}
}

// maxPooledTail bounds the tail buffers kept for reuse (putTail).
const maxPooledTail = 4 << 10

// row builds the record's Parquet row from the top-level fields the
// schema names, in one pass over the value; its values alias the value's
// bytes, which the sink copies when it writes the row.
func (p *Processor) row(rec *record, answer json.RawMessage, meta Meta) (parquet.Row, error) {
	names := p.deps.Schema.Fields()
	raws := make([][]byte, len(names))
	if err := pickRaws(rec.value, names, raws); err != nil {
		return nil, err
	}
	return p.deps.Schema.Row(nil, raws, answer, schema.Journey(meta))
}

// park sends a record that can never succeed to the parking topic, with the
// cause in its envelope.
func (p *Processor) park(rec *record, class string, cause error) {
	rec.env.ErrorClass = class
	if rec.env.FirstFailure.IsZero() {
		rec.env.FirstFailure = p.now()
	}
	p.forwardPark(rec, cause)
}

// forwardPark writes a record whose envelope already says why it is parked.
func (p *Processor) forwardPark(rec *record, cause error) {
	rec.env.Error = cause.Error()
	rec.env.NotBefore = time.Time{} // parked records are never due
	if ok, suppressed := p.parkLog.allow(rec.env.ErrorClass); ok {
		p.log.Warn("record parked",
			"topic", rec.topic, "partition", rec.part.id, "offset", rec.offset,
			"origin", rec.env.Origin.String(), "attempt", rec.env.Attempt,
			"class", rec.env.ErrorClass, "err", cause, "same_class_not_logged", suppressed)
	}
	p.stats.parked.Add(1)
	p.metrics.parkedRoute.Inc()
	p.metrics.parked.WithLabelValues(rec.env.ErrorClass).Inc()
	p.forward(rec, p.cfg.ParkingTopic, p.parkingPartition(rec))
}

// handoff writes a record back to the DLQ exactly as it is (same attempt
// and not-before time) so that its partition can be released quickly on a
// revoke. A fresh record gets an envelope with attempt 0, due at once.
func (p *Processor) handoff(rec *record) {
	if !rec.fromDLQ() {
		rec.env.ErrorClass = ClassHandoff
		rec.env.Error = "partition revoked before the record was finished"
	}
	p.stats.handedOff.Add(1)
	p.metrics.handoff.Inc()
	rec.part.handedOff.Add(1)
	p.forward(rec, p.cfg.DLQTopic, rec.part.id)
}

// forward writes rec with its envelope to topic/partition; its commit is
// released once the write is acknowledged (written).
func (p *Processor) forward(rec *record, topic string, partition int32) {
	rec.own() // the producer keeps the value until Kafka acknowledges it
	rec.part.writeStarted(rec)
	p.deps.Forwarder.Forward(topic, partition, rec.key, rec.value, rec.writeHeaders(), func(err error) {
		p.written(rec, topic, partition, err)
	})
}

// written decides what follows a DLQ or parking write. A write never fails
// the processor: one that can never succeed parks the record reduced, one
// that may succeed later is retried with backoff while the partition
// pauses, and one that fails on a partition being revoked is let go
// uncommitted, to be read again after the rejoin.
func (p *Processor) written(rec *record, topic string, partition int32, err error) {
	var we *WriteError
	switch {
	case err == nil:
		rec.part.writeEnded(rec)
		rec.part.finish(rec, nil)
	case errors.Is(err, ErrProducerClosed), rec.part.ctx.Err() != nil:
		rec.part.letGo(rec, err)
	case errors.As(err, &we) && we.Fault == FaultTooLarge:
		p.parkReduced(rec, we)
	default:
		p.writeLater(rec, topic, partition, err)
	}
}

// writeLater writes rec again after its next backoff.
func (p *Processor) writeLater(rec *record, topic string, partition int32, cause error) {
	if rec.writeBackoff == nil {
		rec.writeBackoff = newRetryBackoff()
	}
	rec.part.retryWrite(rec, rec.writeBackoff.NextBackOff(), topic, cause, func() { p.forward(rec, topic, partition) })
}

// parkReduced is the last resort of invariant 9: a record that a topic
// refused as too large on its own is parked as a reduced envelope (class
// oversize with the cause, the original's size and SHA-256, the key, the
// origin, and as much of the value as fits, marked truncated), so that no
// single record can stop its partition. If the parking topic refuses even
// that, the kept part is halved, down to no value at all.
func (p *Processor) parkReduced(rec *record, we *WriteError) {
	var keep int
	switch limit := p.deps.Topics.MaxMessageBytes[p.cfg.ParkingTopic]; {
	case rec.env.Reduced == nil && limit > 0:
		keep = limit - len(rec.key) - HeaderRoom
	case len(rec.value) >= 2<<10:
		keep = len(rec.value) / 2
	case len(rec.value) > 0:
		keep = 0
	default:
		// Not even the envelope alone fits: only an operator can help
		// (raise the parking topic's max.message.bytes). Keep trying.
		p.log.Error("parking topic refuses even a reduced envelope without value; raise its max.message.bytes",
			"topic", p.cfg.ParkingTopic, "origin", rec.env.Origin.String(), "err", we)
		p.writeLater(rec, p.cfg.ParkingTopic, p.parkingPartition(rec), we)
		return
	}
	size := len(rec.value)
	if rec.env.Reduced != nil {
		size = rec.env.Reduced.Size
	}
	cause := fmt.Sprintf("record of %d bytes can never be written to %s (%v); parked reduced: the whole value is at the origin coordinates while the input topic retains it",
		size, we.Topic, we.Err)
	rec.env, rec.value = dlq.Reduce(rec.env, rec.value, keep, cause)
	rec.headers = nil // what is kept must fit: the envelope says what is missing
	if ok, suppressed := p.parkLog.allow("reduced"); ok {
		p.log.Warn("record parked reduced: too large to write whole",
			"origin", rec.env.Origin.String(), "key", string(rec.key), "size", size, "kept", len(rec.value),
			"sha256", rec.env.Reduced.SHA256, "refused_by", we.Topic, "same_class_not_logged", suppressed)
	}
	p.metrics.reduced.Inc()
	p.forward(rec, p.cfg.ParkingTopic, p.parkingPartition(rec))
}

// parkingPartition is where rec is parked: the parking partition of its
// source partition's number, so that an operator finds a partition's parked
// records together.
func (p *Processor) parkingPartition(rec *record) int32 {
	return rec.part.id % p.deps.Topics.ParkingPartitions
}
