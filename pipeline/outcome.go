package pipeline

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/redrive-io/redrive/enrich"
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
		next, park, reason := p.cfg.Retry.Failed(rec.env, p.now(), string(class), err)
		if park {
			rec.env = next
			p.forwardPark(rec, reason)
			return
		}
		rec.env = next
		p.metrics.dlqAttempt.Observe(float64(next.Attempt))
		p.stats.toDLQ.Add(1)
		p.metrics.dlq.Inc()
		p.forward(rec, p.cfg.DLQTopic, rec.part.id)
	default:
		p.park(rec, string(class), err)
	}
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
	line, err := outputLine(rec.value, p.cfg.EnrichField, answer, meta)
	if err != nil {
		// The value was validated as a JSON object and the answer by the
		// enricher, so this is a bug; still, park rather than lose it.
		p.park(rec, ClassMalformed, fmt.Errorf("building output line: %w", err))
		return
	}
	// The line is all the sink needs; drop the value so that the record
	// does not keep it alive.
	rec.value = nil
	if answer != nil {
		p.metrics.enriched.Inc()
	} else {
		p.metrics.direct.Inc()
	}
	rec.part.toSink(rec)
	p.deps.Sink.Add(sinks.Item{
		Topic:     rec.topic,
		Partition: rec.part.id,
		Offset:    rec.offset,
		Line:      line,
		Done: func(err error) {
			if err == nil {
				p.stats.toSink.Add(1)
			}
			rec.part.finish(rec, err)
		},
	})
	rec.part.addedToSink()
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
	p.forward(rec, p.cfg.ParkingTopic, rec.part.id%p.cfg.ParkingPartitions)
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
	p.forward(rec, p.cfg.DLQTopic, rec.part.id)
}

// forward writes rec with its envelope and releases its commit on the ack.
func (p *Processor) forward(rec *record, topic string, partition int32) {
	p.deps.Forwarder.Forward(topic, partition, rec.key, rec.value, rec.env.Headers(), func(err error) {
		if err != nil {
			p.log.Error("writing record failed; stopping so that it is read again",
				"topic", topic, "partition", partition, "origin", rec.env.Origin.String(), "err", err)
		}
		rec.part.finish(rec, err)
	})
}
