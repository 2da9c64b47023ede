package pipeline

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/dlq"
)

// partition is the state of one assigned partition number (its main and DLQ
// topic-partitions) for one consumer-group session.
type partition struct {
	p   *Processor
	id  int32
	ctx context.Context // goka's partition context: done on revoke or stop

	main, dlq tracker
	waiting   *dlq.WaitRoom[*record]

	mu       sync.Mutex
	pending  int  // tracked, not yet released, not waiting in the room
	pendingB int  // bytes charged for them (recordCost)
	inSink   int  // of those, the ones handed to the sink, awaiting their batch
	inBatch  int  // of those, the ones whose Add returned: in a batch (record.inBatch)
	sinkNew  bool // records were added to the sink since a seal was last scheduled
	// sealedLeft counts the records in a batch when the seal in flight
	// began, less those finished since: a seal is in flight while it is
	// positive (sealLocked). Only records in a batch count: one whose Add
	// is in flight may miss the seal and wait in the next batch, and
	// counting it kept the seal in flight for good.
	sealedLeft int
	// unsealed, unsealedB: the records in a batch since the last seal
	// began, and their charge (sealSoonLocked).
	unsealed, unsealedB int
	revoked             bool
	waitFull            bool // the wait room reached MaxWaiting and has not drained to half since
	// windowFull: the pending window reached its limit and has not
	// drained to half since.
	windowFull bool

	// writes are the records whose DLQ or parking write is in flight (nil)
	// or waiting for a retry (its timer); writeFailing counts the latter,
	// and fetching pauses while it is positive. writesIdle, set by a
	// revoke, is closed when writes becomes empty.
	writes       map[*record]*time.Timer
	writeFailing int
	writesIdle   chan struct{}
	handedOff    atomic.Int64 // records handed to the DLQ since the revoke began

	// The partition's gauges, looked up once: they are set per record.
	gPending, gWaiting, gUncommitted prometheus.Gauge
	pausedMain                       bool
	pausedDLQ                        bool
}

func newPartition(p *Processor, ctx context.Context, id int32) *partition {
	part := &partition{p: p, id: id, ctx: ctx, writes: map[*record]*time.Timer{}}
	part.waiting = dlq.NewWaitRoom(part.due)
	l := part.label()
	part.gPending = p.metrics.pending.WithLabelValues(l)
	part.gWaiting = p.metrics.waiting.WithLabelValues(l)
	part.gUncommitted = p.metrics.uncommitted.WithLabelValues(l)
	return part
}

// track registers rec's deferred commit with the tracker of its topic.
func (part *partition) track(rec *record, release func(error)) {
	rec.tr = &part.main
	if rec.fromDLQ() {
		rec.tr = &part.dlq
	}
	rec.entry = rec.tr.add(rec.offset, rec.received, release)
	part.mu.Lock()
	part.pending++
	part.pendingB += rec.size
	part.adjustLocked()
	part.mu.Unlock()
}

// finish releases rec's commit (in offset order, through the tracker) once
// it is durable in S3, the DLQ or parking; err non-nil means it is not, and
// stops the processor without committing past it.
func (part *partition) finish(rec *record, err error) {
	if !rec.finished.CompareAndSwap(false, true) {
		return // let go already; a late acknowledgement changes nothing
	}
	rec.tr.complete(rec.entry, err)
	part.mu.Lock()
	part.pending--
	part.pendingB -= rec.size
	if rec.inSink {
		part.inSink--
	}
	if rec.inBatch {
		part.inBatch--
		part.sealedLeft = max(part.sealedLeft-1, 0)
	}
	part.adjustLocked()
	revoked := part.revoked
	part.mu.Unlock()
	outstanding := part.main.outstanding() + part.dlq.outstanding()
	if revoked {
		if outstanding == 0 {
			part.dropMetrics()
		}
		return
	}
	part.gUncommitted.Set(float64(outstanding))
}

// toSink counts rec among the records waiting in the sink; call it before
// the sink may call rec's Done.
func (part *partition) toSink(rec *record) {
	part.mu.Lock()
	rec.inSink = true
	part.inSink++
	part.sinkNew = true
	part.mu.Unlock()
}

// addedToSink runs once a record is in its open batch (its Add returned).
func (part *partition) addedToSink(rec *record) {
	part.mu.Lock()
	if !rec.finished.Load() {
		rec.inBatch = true
		part.inBatch++
		part.unsealed++
		part.unsealedB += rec.size
	}
	if !part.sealSoonLocked() {
		part.sealIfStuckLocked()
	}
	part.mu.Unlock()
}

// sealSoonLocked seals the partition's open S3 batches once the records
// added to them since the last seal hold three quarters of its window:
// their upload then overlaps the filling of the last quarter, where
// sealing only at a full window paused fetching for every upload (a sixth
// of a pass-through partition's time in make bench). It reports whether
// it sealed.
func (part *partition) sealSoonLocked() bool {
	return part.unsealedFill(3, 4) && part.sealLocked()
}

// unsealedFill reports whether the records added to the batches since the
// last seal fill num/den of the partition's window, in records or bytes.
func (part *partition) unsealedFill(num, den int) bool {
	return part.unsealed >= part.p.cfg.MaxPending/den*num || part.unsealedB >= part.p.windowBytes()/den*num
}

// sealIfStuckLocked seals the partition's open S3 batches when fetching
// is paused and every pending record waits in the sink: records are
// released only once their batch is durable, so nothing else would drain
// the window before --batch-max-age. While records are still in
// enrichment or on their way to the DLQ it waits for them, so that a slow
// API does not turn into many small objects; unless the records added to
// the batches since the last seal hold half the window already: a busy API
// (a cold cache) kept them, and the records behind them that need no call,
// paused for seconds (make bench's lookup-table workload, half of each
// partition's time), and half a window is not a small object.
//
// It seals at once, and not again until the records it sealed are
// finished: those fetched before the pause that reach the sink meanwhile
// join the next batch instead of an object of their own, and the pause
// lasts one upload. (It waited 100 ms for them before, which was most of
// every pause of a pass-through partition.)
func (part *partition) sealIfStuckLocked() {
	if !part.pausedMain {
		return
	}
	if part.pending == part.inSink || part.unsealedFill(1, 2) {
		part.sealLocked()
	}
}

// sealLocked seals the partition's open batches, unless a seal is in
// flight or nothing reached the sink since the last one, and reports
// whether it did.
func (part *partition) sealLocked() bool {
	if part.revoked || part.sealedLeft > 0 || !part.sinkNew {
		return false
	}
	part.sinkNew = false
	part.unsealed, part.unsealedB = 0, 0
	part.sealedLeft = part.inBatch
	part.p.wg.Add(1)
	go func() { // the caller holds part.mu, which seal must not
		defer part.p.wg.Done()
		part.p.seal(part.id)
	}()
	return true
}

// dropMetrics removes the partition's series once it is revoked and
// released, so that a pod stops reporting partitions it no longer owns.
func (part *partition) dropMetrics() {
	m, l := part.p.metrics, part.label()
	m.pending.DeleteLabelValues(l)
	m.waiting.DeleteLabelValues(l)
	m.uncommitted.DeleteLabelValues(l)
	for _, topic := range []string{part.p.cfg.InputTopic, part.p.cfg.DLQTopic} {
		m.paused.DeleteLabelValues(topic, l)
	}
}

// hold puts a not-yet-due DLQ record in the wait room. On a revoked
// partition it is handed back to the DLQ at once instead.
func (part *partition) hold(rec *record) {
	rec.own()
	part.mu.Lock()
	if part.revoked {
		part.mu.Unlock()
		part.p.handoff(rec)
		return
	}
	part.pending--
	part.pendingB -= rec.size
	part.waiting.Add(rec.env.NotBefore, rec)
	part.adjustLocked()
	part.mu.Unlock()
}

// due is the wait room's callback: the record's time has come.
func (part *partition) due(rec *record) {
	part.mu.Lock()
	part.pending++
	part.pendingB += rec.size
	part.adjustLocked()
	part.mu.Unlock()
	part.p.enrich(rec)
}

// adjustLocked pauses or resumes fetching so that memory stays within the
// configured windows: both topics pause when MaxPending records or the
// partition's byte window (Processor.windowBytes) are in flight, and their
// open S3 batches are sealed once nothing else can drain the window
// (sealIfStuckLocked); the DLQ alone pauses when its wait room is full, so
// that records not yet due never stop the main topic (invariant 4).
// Resuming waits for the window to drain to half, so that fetching does
// not flap.
func (part *partition) adjustLocked() {
	if part.revoked {
		return
	}
	cfg := part.p.cfg
	held := part.waiting.Len()
	part.waitFull = hysteresis(part.waitFull, held, cfg.MaxWaiting)
	part.windowFull = hysteresis(part.windowFull, part.pending, cfg.MaxPending) ||
		hysteresis(part.windowFull, part.pendingB, part.p.windowBytes())
	main := part.windowFull || part.writeFailing > 0
	dlqPause := main || part.waitFull
	if main != part.pausedMain {
		part.pausedMain = main
		part.p.pause(cfg.InputTopic, part.id, main)
		part.p.logPause(cfg.InputTopic, part.id, main, part.pending, held)
	}
	part.sealIfStuckLocked()
	if dlqPause != part.pausedDLQ {
		part.pausedDLQ = dlqPause
		part.p.pause(cfg.DLQTopic, part.id, dlqPause)
		part.p.logPause(cfg.DLQTopic, part.id, dlqPause, part.pending, held)
	}
	part.gPending.Set(float64(part.pending))
	part.gWaiting.Set(float64(held))
}

// hysteresis pauses at limit and resumes at half of it.
func hysteresis(paused bool, n, limit int) bool {
	if paused {
		return n > limit/2
	}
	return n >= limit
}

// revoke runs when the partition's context ends (rebalance or stop): hand
// every record that is held to the DLQ unchanged, let in-flight enrichments
// end (their context is the partition's, so they return at once and hand
// their record on), flush the partition's S3 batches and wait for its DLQ
// and parking writes, so that goka's wait for deferred commits ends
// quickly. What Kafka cannot take within RevokeFlushTimeout (the brokers
// may be the reason for the revoke) is let go uncommitted.
func (part *partition) revoke() {
	letGo := part.letGoWaiting(errors.New("partition revoked while its write was failing"))
	part.mu.Lock()
	part.revoked = true
	held := part.waiting.Close()
	part.pending += len(held)
	for _, rec := range held {
		part.pendingB += rec.size
	}
	part.mu.Unlock()
	// Records queued for an enrichment worker are handed off now rather
	// than after the workers got through other partitions' records.
	held = append(held, part.p.work.take(func(r *record) bool { return r.part == part })...)
	for _, rec := range held {
		part.p.handoff(rec)
	}
	cfg := part.p.cfg
	ctx, cancel := context.WithTimeout(context.Background(), cfg.RevokeFlushTimeout)
	defer cancel()
	for _, topic := range []string{cfg.InputTopic, cfg.DLQTopic} {
		if err := part.p.deps.Sink.FlushPartition(ctx, topic, part.id); err != nil {
			part.p.log.Error("flushing revoked partition failed; its records will be read again",
				"topic", topic, "partition", part.id, "err", err)
		}
	}
	letGo += part.awaitWrites(ctx)
	if part.main.outstanding()+part.dlq.outstanding() == 0 {
		part.dropMetrics()
	}
	if letGo > 0 {
		part.p.log.Warn("partition revoked; records let go uncommitted, to be read again after the rejoin",
			"partition", part.id, "handed_off", part.handedOff.Load(), "let_go", letGo)
		return
	}
	part.p.log.Info("partition revoked", "partition", part.id, "handed_off", part.handedOff.Load())
}

func (part *partition) label() string { return partitionLabel(part.id) }

// partitionLabel is the partition label of every per-partition series; one
// function, so that dropMetrics deletes exactly what was set.
func partitionLabel(id int32) string { return strconv.Itoa(int(id)) }
