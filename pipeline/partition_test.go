package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/sinks"
)

// fakeCtx is the slice of goka.Context the processor uses; releases are
// recorded per topic in the order they happen.
type fakeCtx struct {
	unused    // nil: calling a method the processor should not use panics
	ctx       context.Context
	topic     string
	partition int32
	offset    int64
	key       string
	headers   goka.Headers
	ts        time.Time // the record's Kafka timestamp; zero: none
	commits   *commitLog
}

func (c *fakeCtx) Context() context.Context { return c.ctx }
func (c *fakeCtx) Topic() goka.Stream       { return goka.Stream(c.topic) }
func (c *fakeCtx) Partition() int32         { return c.partition }
func (c *fakeCtx) Offset() int64            { return c.offset }
func (c *fakeCtx) Key() string              { return c.key }
func (c *fakeCtx) Headers() goka.Headers    { return c.headers }
func (c *fakeCtx) Timestamp() time.Time     { return c.ts }
func (c *fakeCtx) DeferCommit() func(error) {
	return func(err error) { c.commits.release(c.topic, c.offset, err) }
}

// unused is goka.Context under another name, so that fakeCtx can define
// Context() itself.
type unused = goka.Context

// commitLog records releases like goka does: marking offset+1.
type commitLog struct {
	mu       sync.Mutex
	released map[string][]int64
	errs     int
}

func (l *commitLog) release(topic string, offset int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs++
		return
	}
	if l.released == nil {
		l.released = map[string][]int64{}
	}
	l.released[topic] = append(l.released[topic], offset)
}

func (l *commitLog) count(topic string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.released[topic])
}

// pauseLog records Pause/Resume calls of the consumer group.
type pauseLog struct {
	sarama.ConsumerGroup
	mu     sync.Mutex
	paused map[string]bool
	calls  []string
}

func (p *pauseLog) Pause(m map[string][]int32)  { p.set(m, true) }
func (p *pauseLog) Resume(m map[string][]int32) { p.set(m, false) }
func (p *pauseLog) set(m map[string][]int32, v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		p.paused = map[string]bool{}
	}
	for topic, parts := range m {
		for _, part := range parts {
			k := fmt.Sprintf("%s/%d", topic, part)
			p.paused[k] = v
			p.calls = append(p.calls, fmt.Sprintf("%s=%v", k, v))
		}
	}
}

func (p *pauseLog) is(topic string, part int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused[fmt.Sprintf("%s/%d", topic, part)]
}

// harness drives a processor directly through its goka callback.
type harness struct {
	t       *testing.T
	p       *Processor
	ctx     context.Context
	cancel  context.CancelFunc
	commits *commitLog
	group   *pauseLog
	next    map[string]int64
	ts      time.Time // the Kafka timestamp of the records consume delivers
}

func newHarness(t *testing.T, cfg Config, deps Deps) *harness {
	t.Helper()
	p, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	group := &pauseLog{}
	build := p.ConsumerGroupBuilder(func([]string, string, string) (sarama.ConsumerGroup, error) { return group, nil })
	if _, err := build(nil, "g", "c"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, p: p, ctx: ctx, cancel: cancel, commits: &commitLog{}, group: group, next: map[string]int64{}}
	t.Cleanup(func() { cancel(); p.Wait() })
	return h
}

func (h *harness) consume(topic, key string, value []byte, headers goka.Headers) {
	off := h.next[topic]
	h.next[topic]++
	h.p.consume(&fakeCtx{ctx: h.ctx, topic: topic, partition: 0, offset: off, key: key, headers: headers, ts: h.ts, commits: h.commits}, value)
}

// Invariant 4: DLQ records that are not yet due are held without blocking
// the main topic of the same partition; when the wait room is full only the
// DLQ partition is paused, and the main topic's records keep flowing and
// committing.
func TestInvariant4_NotYetDueDLQRecordsNeverBlockTheMainTopic(t *testing.T) {
	cfg := testConfig()
	cfg.MaxWaiting = 10
	sink, fwd := &fakeSink{}, &fakeForwarder{}
	h := newHarness(t, cfg, Deps{Matcher: rule(t), Enricher: &fakeEnricher{}, Sink: sink, Forwarder: fwd})

	later := dlq.Envelope{Origin: dlq.Origin{Topic: "in", Offset: 1}, Attempt: 3, NotBefore: time.Now().Add(time.Hour)}
	for i := range 15 { // more than MaxWaiting: records already fetched after a pause still arrive
		h.consume("in.dlq", fmt.Sprint(i), []byte(`{"category":"X"}`), headersOf(later))
	}
	if !h.group.is("in.dlq", 0) {
		t.Fatal("DLQ partition not paused with a full wait room")
	}
	if h.group.is("in", 0) {
		t.Fatal("main topic paused because of DLQ records that are not due")
	}
	for i := range 100 {
		h.consume("in", fmt.Sprint(i), []byte(`{"category":"Y"}`), nil)
	}
	if got := h.commits.count("in"); got != 100 {
		t.Fatalf("main topic committed %d of 100 records while DLQ records wait", got)
	}
	if got := h.commits.count("in.dlq"); got != 0 {
		t.Fatalf("DLQ committed %d records that are not done", got)
	}
	if len(fwd.sent) != 0 {
		t.Fatalf("waiting records were rewritten (hot loop): %+v", fwd.sent)
	}
}

// Invariant 3 (no hot loop) and the wait room: a DLQ record is retried when
// its not-before time comes, not before, and is not rewritten meanwhile.
func TestInvariant3_DLQRecordWaitsForItsTime(t *testing.T) {
	sink, fwd, enr := &fakeSink{}, &fakeForwarder{}, &fakeEnricher{}
	h := newHarness(t, testConfig(), Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: fwd})
	soon := dlq.Envelope{Origin: dlq.Origin{Topic: "in", Offset: 1}, Attempt: 1, NotBefore: time.Now().Add(300 * time.Millisecond)}
	h.consume("in.dlq", "k", []byte(`{"category":"X"}`), headersOf(soon))
	if enr.Calls() != 0 {
		t.Fatal("a record not yet due was sent to the API")
	}
	wait.For(t, 10*time.Second, "the record to be enriched when due", func() bool { return h.commits.count("in.dlq") == 1 })
	if time.Now().Before(soon.NotBefore) {
		t.Fatalf("record finished before its not-before time")
	}
	if enr.Calls() != 1 || len(fwd.sent) != 0 {
		t.Fatalf("calls=%d forwards=%d, want one call and no rewrite", enr.Calls(), len(fwd.sent))
	}
}

// Invariant 1 through the processor: S3 batches complete out of order, and
// commits are still released in offset order, only over the completed prefix.
func TestInvariant1_OutOfOrderSinkCompletionCommitsInOrder(t *testing.T) {
	sink := &fakeSink{hold: true}
	h := newHarness(t, testConfig(), Deps{Sink: sink, Forwarder: &fakeForwarder{}})
	const n = 500
	for i := range n {
		h.consume("in", fmt.Sprint(i), []byte(`{"i":1}`), nil)
	}
	if h.commits.count("in") != 0 {
		t.Fatal("committed before anything was durable")
	}
	sink.release(rand.New(rand.NewPCG(3, 4)).Perm(n))
	got := h.commits.released["in"]
	if len(got) != n {
		t.Fatalf("released %d of %d", len(got), n)
	}
	// Any order of release among durable records is safe, but each must
	// come only after all earlier ones were complete: with a random
	// completion order that shows as every offset being released once.
	seen := map[int64]bool{}
	for _, off := range got {
		if seen[off] {
			t.Fatalf("offset %d released twice", off)
		}
		seen[off] = true
	}
}

// Invariant 5 (bounded memory): MaxPending records in flight pause both
// topics of the partition; draining to half resumes them.
func TestInvariant5_PendingWindowPausesAndResumes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPending = 100
	sink := &fakeSink{hold: true}
	h := newHarness(t, cfg, Deps{Sink: sink, Forwarder: &fakeForwarder{}})
	for i := range 100 {
		h.consume("in", fmt.Sprint(i), []byte(`{}`), nil)
	}
	if !h.group.is("in", 0) || !h.group.is("in.dlq", 0) {
		t.Fatalf("not paused at MaxPending: %v", h.group.calls)
	}
	sink.release(seq(0, 100))
	if h.group.is("in", 0) || h.group.is("in.dlq", 0) {
		t.Fatalf("not resumed after draining: %v", h.group.calls)
	}
}

// Invariant 6 (graceful stop / rebalance): when a partition's context ends,
// held DLQ records go back to the DLQ unchanged, in-flight enrichments are
// handed off, open batches are flushed, and every commit is released fast.
func TestInvariant6_RevokeHandsOffEverythingHeld(t *testing.T) {
	sink, fwd, enr := &fakeSink{hold: true}, &fakeForwarder{}, &fakeEnricher{}
	h := newHarness(t, testConfig(), Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: fwd})
	waiting := dlq.Envelope{Origin: dlq.Origin{Topic: "in", Partition: 0, Offset: 9}, Attempt: 4, ErrorClass: "timeout",
		FirstFailure: time.Now().Add(-time.Hour).UTC(), NotBefore: time.Now().Add(time.Hour).UTC()}
	h.consume("in.dlq", "w", []byte(`{"category":"X"}`), headersOf(waiting))
	h.consume("in", "b", []byte(`{"category":"X","outcome":"block"}`), nil) // in flight
	h.consume("in", "s", []byte(`{"category":"Y"}`), nil)                   // in an open batch
	wait.For(t, 10*time.Second, "the blocking call to start", func() bool { return enr.Calls() == 1 })

	h.cancel()
	wait.For(t, 10*time.Second, "every commit to be released", func() bool {
		return h.commits.count("in") == 2 && h.commits.count("in.dlq") == 1
	})
	dlqs := fwd.to("in.dlq")
	if len(dlqs) != 2 {
		t.Fatalf("handed off %d records, want 2: %+v", len(dlqs), dlqs)
	}
	for _, d := range dlqs {
		switch d.Key {
		case "w":
			if d.Env.Attempt != 4 || !d.Env.NotBefore.Equal(waiting.NotBefore) || d.Env.Origin != waiting.Origin || d.Env.ErrorClass != "timeout" {
				t.Fatalf("waiting record changed on hand-off: %+v", d.Env)
			}
		case "b":
			if d.Env.Attempt != 0 || !d.Env.NotBefore.IsZero() || d.Env.Origin != (dlq.Origin{Topic: "in", Partition: 0, Offset: 0}) || d.Env.ErrorClass != ClassHandoff {
				t.Fatalf("in-flight record hand-off envelope: %+v", d.Env)
			}
		default:
			t.Fatalf("unexpected hand-off %+v", d)
		}
	}
	if h.commits.errs != 0 {
		t.Fatalf("%d commits released with an error", h.commits.errs)
	}
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// gatedEnricher blocks every call until the gate opens and tracks how many
// calls run at once.
type gatedEnricher struct {
	gate     chan struct{}
	mu       sync.Mutex
	inFlight int
	max      int
}

func (g *gatedEnricher) Enrich(ctx context.Context, _ []byte, _ map[string]any) (json.RawMessage, error) {
	g.mu.Lock()
	g.inFlight++
	g.max = max(g.max, g.inFlight)
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	select {
	case <-g.gate:
	case <-ctx.Done():
	}
	return json.RawMessage(`{}`), nil
}

func (g *gatedEnricher) current() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight
}

// Invariant 5: however large the backlog of records needing enrichment,
// the goroutines calling the API are bounded by the configured workers.
func TestInvariant5_EnrichmentGoroutinesAreBounded(t *testing.T) {
	cfg := testConfig()
	cfg.EnrichWorkers = 4
	enr := &gatedEnricher{gate: make(chan struct{})}
	h := newHarness(t, cfg, Deps{Matcher: rule(t), Enricher: enr, Sink: &fakeSink{}, Forwarder: &fakeForwarder{}})
	before := runtime.NumGoroutine()
	const n = 2000
	for i := range n {
		h.consume("in", fmt.Sprint(i), []byte(`{"category":"X"}`), nil)
	}
	wait.For(t, 10*time.Second, "the workers to be busy", func() bool { return enr.current() == 4 })
	// One watcher for the partition and four workers; a little slack for
	// runtime goroutines, far below one per record.
	if grown := runtime.NumGoroutine() - before; grown > 4+1+10 {
		t.Fatalf("%d goroutines for %d queued records, want about 5", grown, n)
	}
	close(enr.gate)
	wait.For(t, 10*time.Second, "every record to commit", func() bool { return h.commits.count("in") == n })
	if enr.max > 4 {
		t.Fatalf("%d calls at once, want at most 4", enr.max)
	}
}

// A revoked partition stops being reported once its records are released,
// so a pod does not keep reporting partitions another pod now owns.
func TestRevokedPartitionMetricsAreDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	sink := &fakeSink{hold: true}
	h := newHarness(t, testConfig(), Deps{Sink: sink, Forwarder: &fakeForwarder{}, Registerer: reg})
	h.consume("in", "k", []byte(`{}`), nil)
	series := func() int {
		mfs, _ := reg.Gather()
		n := 0
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "redrive_partition_") {
				n += len(mf.GetMetric())
			}
		}
		return n
	}
	if series() == 0 {
		t.Fatal("no partition series while the partition is owned")
	}
	h.cancel()
	wait.For(t, 10*time.Second, "the partition's series to be dropped", func() bool { return series() == 0 })
}

// Invariant 6: records queued for a busy enrichment worker are handed back
// at once when their partition is revoked, while the worker is still busy
// with another partition's call.
func TestInvariant6_RevokeTakesQueuedRecordsBack(t *testing.T) {
	cfg := testConfig()
	cfg.EnrichWorkers = 1
	enr := &gatedEnricher{gate: make(chan struct{})}
	fwd := &fakeForwarder{}
	h := newHarness(t, cfg, Deps{Matcher: rule(t), Enricher: enr, Sink: &fakeSink{}, Forwarder: fwd})
	// Partition 1 (never revoked here) occupies the only worker.
	other, stopOther := context.WithCancel(context.Background())
	defer stopOther()
	h.p.consume(&fakeCtx{ctx: other, topic: "in", partition: 1, offset: 0, key: "busy", commits: h.commits}, []byte(`{"category":"X"}`))
	wait.For(t, 10*time.Second, "the single worker to be busy", func() bool { return enr.current() == 1 })
	for i := range 49 {
		h.consume("in", fmt.Sprint(i), []byte(`{"category":"X"}`), nil)
	}
	if q := h.p.work.length(); q != 49 {
		t.Fatalf("%d queued, want 49", q)
	}
	h.cancel() // revoke partition 0 only
	wait.For(t, 10*time.Second, "partition 0's records handed off", func() bool { return len(fwd.to("in.dlq")) == 49 })
	if enr.current() != 1 {
		t.Fatal("the worker finished its call: the test no longer shows the hand-off happens without it")
	}
	if h.p.work.length() != 0 {
		t.Fatalf("%d records left in the queue", h.p.work.length())
	}
	close(enr.gate)
}

// Invariant 5 in bytes: large records pause fetching at MaxPendingBytes
// long before MaxPending records are held (a record is held until its
// commit is released, so bytes are what memory follows).
func TestInvariant5_PendingBytesPauseFetching(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPendingBytes = 1 << 20
	h, sink, big := newBigRecordHarness(t, cfg)
	for i := range 16 { // 16 × (60 KiB + recordOverhead) ≈ 0.95 MiB: below the window
		h.consume("in", fmt.Sprint(i), big, nil)
	}
	if h.group.is("in", 0) {
		t.Fatal("paused below MaxPendingBytes")
	}
	h.consume("in", "17", big, nil)
	h.consume("in", "18", big, nil)
	if !h.group.is("in", 0) {
		t.Fatalf("not paused with %d records of 60 KiB pending (window 1 MiB)", 18)
	}
	sink.release(seq(0, 18))
	if h.group.is("in", 0) {
		t.Fatal("not resumed after draining")
	}
}

// newBigRecordHarness returns a harness whose sink holds every record,
// and a record value of 60 KiB (charged about 61 KiB with recordOverhead).
func newBigRecordHarness(t *testing.T, cfg Config) (*harness, *fakeSink, []byte) {
	cfg.MaxRecordBytes = 64 << 10
	sink := &fakeSink{hold: true}
	h := newHarness(t, cfg, Deps{Sink: sink, Forwarder: &fakeForwarder{}})
	big := []byte(`{"blob":"` + strings.Repeat("x", 60<<10) + `"}`)
	return h, sink, big
}

// Invariant 5 for the process: the partitions a process owns share
// MaxPendingBytesTotal, so owning a second partition halves the first one's
// window, and the memory bound does not grow with the assignment.
func TestInvariant5_OwnedPartitionsShareTheTotalBytes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPendingBytes = 1 << 20
	cfg.MaxPendingBytesTotal = 1 << 20
	h, _, big := newBigRecordHarness(t, cfg)
	h.p.partitionFor(h.ctx, 1) // this process now owns partitions 0 and 1
	for i := range 7 {         // 7 × ~61 KiB ≈ 427 KiB: below half a MiB
		h.consume("in", fmt.Sprint(i), big, nil)
	}
	if h.group.is("in", 0) {
		t.Fatal("paused below the partition's share of the total")
	}
	h.consume("in", "7", big, nil)
	h.consume("in", "8", big, nil)
	if !h.group.is("in", 0) {
		t.Fatal("not paused at half of MaxPendingBytesTotal with two partitions owned")
	}
}

// A partition whose records in the sink fill three quarters of its window
// asks the sink to upload its open batches: its records are released only
// once their batch is durable, so waiting for the size limits or
// --batch-max-age would stall it, and sealing before the window is full
// lets the upload overlap the filling of the last quarter.
func TestWindowThreeQuartersFullSealsThePartitionsBatches(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPending = 12
	sink := &fakeSink{hold: true}
	h := newHarness(t, cfg, Deps{Sink: sink, Forwarder: &fakeForwarder{}})
	for i := range 8 {
		h.consume("in", fmt.Sprint(i), []byte(`{}`), nil)
	}
	time.Sleep(100 * time.Millisecond) // a correct partition never seals here, however long it waits
	if got := sink.sealCalls(); len(got) != 0 {
		t.Fatalf("sealed %v below three quarters of the window", got)
	}
	h.consume("in", "8", []byte(`{}`), nil)
	wait.For(t, 10*time.Second, "the batches to be sealed", func() bool { return len(sink.sealCalls()) == 2 })
	if got, want := sink.sealCalls(), []string{"in/0", "in.dlq/0"}; !slices.Equal(got, want) {
		t.Fatalf("sealed %v, want %v", got, want)
	}
	if h.group.is("in", 0) {
		t.Fatal("paused before the window was full")
	}
	// While the seal uploads, the window fills and fetching pauses; the
	// records that arrive meanwhile join the next batch rather than an
	// object of their own.
	for i := range 3 {
		h.consume("in", fmt.Sprint(9+i), []byte(`{}`), nil)
	}
	if !h.group.is("in", 0) {
		t.Fatal("not paused at the full window")
	}
	time.Sleep(100 * time.Millisecond) // a correct partition never seals here, however long it waits
	if got := sink.sealCalls(); len(got) != 2 {
		t.Fatalf("sealed again %v while the first seal was in flight", got[2:])
	}
	sink.release(seq(0, 9))
	if h.group.is("in", 0) {
		t.Fatal("not resumed once the sealed records were released")
	}
}

// A seal that starts while a record's Add is in flight (from a goroutine
// finishing other records) counts only the records already in a batch:
// the one being added joins the next batch, and once the sealed records
// are finished the partition can be sealed again. Counting it too kept
// the partition from sealing until --batch-max-age (seen as a 30 s stall
// in make bench).
func TestSealDuringAnAddDoesNotStallThePartition(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPending = 10 // seals at 6 records in batches
	sink := &fakeSink{hold: true}
	h := newHarness(t, cfg, Deps{Sink: sink, Forwarder: &fakeForwarder{}})
	sink.duringAdd = func(it sinks.Item) {
		if it.Offset == 5 {
			h.p.partsMu.Lock()
			part := h.p.parts[0]
			h.p.partsMu.Unlock()
			part.mu.Lock()
			part.sealLocked()
			part.mu.Unlock()
		}
	}
	for i := range 6 {
		h.consume("in", fmt.Sprint(i), []byte(`{}`), nil)
	}
	wait.For(t, 10*time.Second, "the batches to be sealed", func() bool { return len(sink.sealCalls()) == 2 })
	sink.release(seq(0, 5)) // the five sealed; record 5 waits in the next batch
	for i := range 6 {
		h.consume("in", fmt.Sprint(6+i), []byte(`{}`), nil)
	}
	wait.For(t, 10*time.Second, "the batches to be sealed again", func() bool { return len(sink.sealCalls()) == 4 })
}

// sarama re-applies a remembered pause to a new session's partition
// consumer. A partition revoked while paused must start the next session
// resumed, or it never fetches again.
func TestAssignmentResumesPartitionsPausedInAnEarlierSession(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPending = 10
	h := newHarness(t, cfg, Deps{Sink: &fakeSink{hold: true}, Forwarder: &fakeForwarder{}})
	for i := range 10 {
		h.consume("in", fmt.Sprint(i), []byte(`{}`), nil)
	}
	if !h.group.is("in", 0) {
		t.Fatal("not paused at the window")
	}
	h.cancel() // revoked while paused
	h.p.onAssignment(goka.Assignment{0: 0, 1: 0})
	if h.group.is("in", 0) || h.group.is("in.dlq", 0) {
		t.Fatalf("partition 0 still paused after a new assignment: %v", h.group.calls)
	}
}

// A full window whose records are still in enrichment waits for them
// before sealing: sealing at the pause would upload an empty batch, and
// the enriched records would then wait in a new one for --batch-max-age
// (make bench's enrichment rate fell to a quarter that way).
func TestFullWindowSealsOnceEnrichmentHasReachedTheSink(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPending = 10
	cfg.EnrichWorkers = 2
	enr := &gatedEnricher{gate: make(chan struct{})}
	sink := &fakeSink{hold: true}
	h := newHarness(t, cfg, Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: &fakeForwarder{}})
	for i := range 10 {
		h.consume("in", fmt.Sprint(i), []byte(`{"category":"X"}`), nil)
	}
	if !h.group.is("in", 0) {
		t.Fatal("not paused at the window")
	}
	wait.For(t, 10*time.Second, "the workers to be busy", func() bool { return enr.current() == 2 })
	time.Sleep(300 * time.Millisecond) // a correct partition never seals here, however long it waits
	if got := sink.sealCalls(); len(got) != 0 {
		t.Fatalf("sealed %v while every record was still in enrichment", got)
	}
	close(enr.gate)
	wait.For(t, 10*time.Second, "the batches to be sealed", func() bool { return len(sink.sealCalls()) == 2 })
	sink.mu.Lock()
	atSeal := sink.atSeal
	sink.mu.Unlock()
	if atSeal < cfg.MaxPending/2 {
		t.Fatalf("sealed with %d of the 10 enriched records in the sink, want half the window at least", atSeal)
	}
}

// A full window whose records in the batches hold half of it is sealed
// even while others wait for a busy API: otherwise those records, and the
// ones behind them that need no call, wait for the API's backlog to clear
// (seconds, in make bench's lookup-table workload). Below half it waits.
func TestFullWindowHalfInBatchesSealsDespiteABusyAPI(t *testing.T) {
	for _, tc := range []struct {
		waiting, direct int
		seals           bool
	}{{10, 10, true}, {11, 9, false}} {
		cfg := testConfig()
		cfg.MaxPending = 20 // three quarters: 15, half: 10
		cfg.EnrichWorkers = 1
		enr := &gatedEnricher{gate: make(chan struct{})}
		sink := &fakeSink{hold: true}
		h := newHarness(t, cfg, Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: &fakeForwarder{}})
		for i := range tc.waiting {
			h.consume("in", fmt.Sprint(i), []byte(`{"category":"X"}`), nil)
		}
		for i := range tc.direct {
			h.consume("in", fmt.Sprint(tc.waiting+i), []byte(`{"category":"Y"}`), nil)
		}
		if !h.group.is("in", 0) {
			t.Fatalf("%+v: not paused at the full window", tc)
		}
		if tc.seals {
			wait.For(t, 10*time.Second, "the batches to be sealed", func() bool { return len(sink.sealCalls()) == 2 })
		} else {
			time.Sleep(100 * time.Millisecond) // a correct partition never seals here, however long it waits
			if got := sink.sealCalls(); len(got) != 0 {
				t.Fatalf("%+v: sealed %v with less than half the window in the batches", tc, got)
			}
		}
		close(enr.gate)
	}
}
