package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLetGo is the error a record's deferred commit is released with when
// its partition was revoked before its DLQ or parking write could be
// acknowledged: nothing is committed at or past it, so it is read again
// after the rejoin (at least once, never lost).
var ErrLetGo = errors.New("let go uncommitted: its partition was revoked before Kafka took the write")

// A partition tracks its records whose DLQ or parking write is in flight
// or waiting to be retried: a failed write pauses the partition's fetching
// until it succeeds, and a revoke lets go of what cannot be written in
// time instead of holding the rebalance (and goka's 60 s wait) up.

// writeStarted registers rec as being written. Idempotent: a retry or a
// reduced park of the same record registers it again.
func (part *partition) writeStarted(rec *record) {
	part.mu.Lock()
	if _, ok := part.writes[rec]; !ok {
		part.writes[rec] = nil
	}
	part.mu.Unlock()
}

// writeEnded unregisters rec; on a revoked partition the last one wakes
// the revoke that waits for them.
func (part *partition) writeEnded(rec *record) {
	part.mu.Lock()
	delete(part.writes, rec)
	part.signalWritesLocked()
	part.mu.Unlock()
}

func (part *partition) signalWritesLocked() {
	if part.writesIdle != nil && len(part.writes) == 0 {
		close(part.writesIdle)
		part.writesIdle = nil
	}
}

// retryWrite schedules another attempt of rec's failed write after delay.
// While any write of the partition waits for a retry, its fetching pauses;
// the first failure and the recovery are logged once each.
func (part *partition) retryWrite(rec *record, delay time.Duration, topic string, cause error, again func()) {
	part.mu.Lock()
	if part.revoked {
		part.mu.Unlock()
		part.letGo(rec, cause)
		return
	}
	part.writeFailing++
	if part.writeFailing == 1 {
		part.p.log.Warn("DLQ or parking writes failing; partition paused, retrying with backoff",
			"topic", topic, "partition", part.id, "origin", rec.env.Origin.String(), "retry_in", delay.Round(time.Millisecond).String(), "err", cause)
	}
	part.writes[rec] = time.AfterFunc(delay, func() {
		part.mu.Lock()
		part.writeRetried()
		_, writing := part.writes[rec] // false: let go by a revoke meanwhile
		if writing {
			part.writes[rec] = nil
		}
		part.mu.Unlock()
		if writing {
			again()
		}
	})
	part.adjustLocked()
	part.mu.Unlock()
}

// writeRetried counts a retry timer as fired or stopped; the caller holds
// part.mu. A timer that letGo stopped is counted there; one that had
// already fired counts itself.
func (part *partition) writeRetried() {
	part.writeFailing--
	if part.writeFailing == 0 {
		part.p.log.Warn("DLQ or parking writes retried; partition resumes", "partition", part.id)
	}
	part.adjustLocked()
}

// letGo releases rec's commit with ErrLetGo: the partition is revoked (or
// the producer closed) and the write cannot be waited for.
func (part *partition) letGo(rec *record, cause error) {
	part.mu.Lock()
	if t, ok := part.writes[rec]; ok && t != nil && t.Stop() {
		part.writeRetried()
	}
	delete(part.writes, rec)
	part.signalWritesLocked()
	part.mu.Unlock()
	if rec.finished.Load() {
		return
	}
	part.p.stats.letGo.Add(1)
	part.p.metrics.letGo.Inc()
	part.finish(rec, fmt.Errorf("%w (origin %s): %v", ErrLetGo, rec.env.Origin, cause))
}

// letGoWaiting lets go of every record waiting to retry a failed write:
// Kafka already refused them, so a revoke does not wait for them.
func (part *partition) letGoWaiting(cause error) int { return part.letGoWrites(cause, true) }

// letGoWrites lets go of the partition's writes (only those waiting for a
// retry when waitingOnly) and returns how many.
func (part *partition) letGoWrites(cause error, waitingOnly bool) int {
	part.mu.Lock()
	var recs []*record
	for rec, t := range part.writes {
		if t != nil || !waitingOnly {
			recs = append(recs, rec)
		}
	}
	part.mu.Unlock()
	for _, rec := range recs {
		part.letGo(rec, cause)
	}
	return len(recs)
}

// awaitWrites waits until the partition's writes are acknowledged or ctx
// ends, then lets go of the rest. It returns how many were let go.
func (part *partition) awaitWrites(ctx context.Context) int {
	part.mu.Lock()
	var idle chan struct{}
	if len(part.writes) > 0 {
		idle = make(chan struct{})
		part.writesIdle = idle
	}
	part.mu.Unlock()
	if idle == nil {
		return 0
	}
	select {
	case <-idle:
		return 0
	case <-ctx.Done():
	}
	return part.letGoWrites(context.Cause(ctx), false)
}
