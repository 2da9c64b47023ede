package sinks

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Batcher batches lines per input topic-partition and time bucket (Item.Time),
// seals a batch by count, size or age (or to make room for another bucket), and
// uploads sealed batches to a Store with at most MaxUploads in flight.
//
// Goroutines: one ager plus MaxUploads upload workers, all owned by the Batcher and
// ended by Close. Memory: the open batches of each topic-partition, at most
// MaxOpenBuckets (compressed bytes and a compressor each), plus the compressed
// bodies of sealed batches waiting for or in their upload; the caller bounds the
// latter by bounding the lines it has pending.
type Batcher struct {
	cfg         Config
	store       Store
	log         *slog.Logger
	now         func() time.Time
	m           *metrics
	encoders    interface{ encoder(*bytes.Buffer) encoder }
	contentType string
	// bodies pools the buffers objects are encoded into: grown to an
	// object's size (about 1 MiB at the defaults) once, instead of from
	// scratch for every batch, which was a sixth of pass-through's
	// allocations.
	bodies sync.Pool

	life     context.Context // parent of every batch's context
	stopLife context.CancelCauseFunc

	pending     atomic.Int64
	closed      atomic.Bool // set under mu before Close seals the open batches
	closeCalled atomic.Bool

	mu       sync.Mutex
	wake     *sync.Cond // on mu: queue grew or stopping was set
	parts    map[topicPartition]*partition
	inflight map[topicPartition]map[*sealedBatch]struct{} // sealed, not finished
	queue    []*sealedBatch                               // sealed, waiting for a worker
	stopping bool

	agerStop chan struct{}
	agerDone chan struct{}
	workers  sync.WaitGroup
}

// partition holds the open batches of one topic-partition, one per time bucket,
// at most Config.MaxOpenBuckets of them, oldest opened first. Lock order:
// partition.mu before Batcher.mu, never the other way round.
type partition struct {
	mu   sync.Mutex
	open []*openBatch
}

// find returns the index of the open batch of a bucket, or -1. A line
// without a time (event false) joins any batch dated by the clock.
func (p *partition) find(at time.Time, event bool) int {
	for i, ob := range p.open {
		if ob.event == event && (!event || ob.at.Equal(at)) {
			return i
		}
	}
	return -1
}

// NewBatcher applies cfg's defaults, validates it and starts the ager and the upload
// workers. Close stops them.
func NewBatcher(cfg Config, store Store, opts ...Option) (*Batcher, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, fmt.Errorf("sinks: NewBatcher needs a Store")
	}
	o := options{log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	b := &Batcher{
		cfg:         cfg,
		store:       store,
		log:         o.log,
		now:         o.now,
		m:           newMetrics(o.reg),
		contentType: contentTypeNDJSON,
		encoders:    &compressors{kind: cfg.Compression, level: cfg.GzipLevel},
		parts:       make(map[topicPartition]*partition),
		inflight:    make(map[topicPartition]map[*sealedBatch]struct{}),
		agerStop:    make(chan struct{}),
		agerDone:    make(chan struct{}),
	}
	switch {
	case cfg.Format == FormatParquet:
		b.contentType = contentTypeParquet
		b.encoders = newParquetWriters(cfg)
	case cfg.Compression == CompressionGzip:
		b.contentType = contentTypeGzip
	case cfg.Compression == CompressionZstd:
		b.contentType = contentTypeZstd
	}
	b.wake = sync.NewCond(&b.mu)
	b.life, b.stopLife = context.WithCancelCause(context.Background())
	go b.runAger(agerInterval(cfg.MaxAge))
	b.workers.Add(cfg.MaxUploads)
	for range cfg.MaxUploads {
		go b.runWorker()
	}
	return b, nil
}

// Add appends it.Line and it.Tail (or it.Row, for Parquet) to the open batch of
// (it.Topic, it.Partition) and its time bucket, and seals the batch when it
// reaches MaxRecords or MaxBytes. It never waits for an upload. After Close
// has begun, it.Done is called at once with ErrClosed; an item without what
// the Format needs gets a Done with an error at once.
func (b *Batcher) Add(it Item) {
	if err := b.fits(it); err != nil {
		if it.Done != nil {
			it.Done(err)
		}
		return
	}
	tp := topicPartition{it.Topic, it.Partition}
	p := b.partitionFor(tp)
	if p == nil {
		b.reject(it)
		return
	}
	p.mu.Lock()
	// Close sets closed before it takes each partition's lock to seal it, so an Add
	// that gets the lock after that seal sees closed and never strands a line.
	if b.closed.Load() {
		p.mu.Unlock()
		b.reject(it)
		return
	}
	defer p.mu.Unlock()
	b.pending.Add(1)
	b.m.pending.Inc()
	size := len(it.Line) + len(it.Tail) + 1
	if it.Row != nil {
		size = rowSize(it.Row)
	}
	// A batch holds one time bucket. A line of a bucket with no open batch
	// opens one; when MaxOpenBuckets are open already, the one opened
	// first is sealed to make room, so the open batches (and their
	// compressors) of a partition stay bounded.
	at, event := b.bucket(it.Time)
	i := p.find(at, event)
	if i >= 0 && p.open[i].rawBytes+size > b.cfg.MaxBytes {
		b.sealAtLocked(tp, p, i)
		i = -1
	}
	if i < 0 {
		if len(p.open) >= b.cfg.MaxOpenBuckets {
			b.sealAtLocked(tp, p, 0)
		}
		p.open = append(p.open, b.newOpenBatch(at, event))
		i = len(p.open) - 1
	}
	ob := p.open[i]
	ob.add(it, size)
	if ob.records >= b.cfg.MaxRecords || ob.rawBytes >= b.cfg.MaxBytes {
		b.sealAtLocked(tp, p, i)
	}
}

// fits refuses an item without what the Format needs: a programming
// error of the caller, reported rather than written wrong.
func (b *Batcher) fits(it Item) error {
	switch {
	case b.cfg.Format == FormatParquet && it.Row == nil:
		return fmt.Errorf("sinks: add %s/%d@%d: a parquet sink takes Item.Row", it.Topic, it.Partition, it.Offset)
	case b.cfg.Format != FormatParquet && it.Row != nil:
		return fmt.Errorf("sinks: add %s/%d@%d: a jsonl sink takes Item.Line", it.Topic, it.Partition, it.Offset)
	}
	return nil
}

// reject hands an item that arrived after Close its Done(ErrClosed).
func (b *Batcher) reject(it Item) {
	if it.Done != nil {
		it.Done(fmt.Errorf("sinks: add %s/%d@%d: %w", it.Topic, it.Partition, it.Offset, ErrClosed))
	}
}

// partitionFor returns the partition of tp, creating it, or nil once Close has begun.
func (b *Batcher) partitionFor(tp topicPartition) *partition {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil
	}
	p := b.parts[tp]
	if p == nil {
		p = &partition{}
		b.parts[tp] = p
	}
	return p
}

// Pending returns the number of lines added whose Done has not returned yet.
func (b *Batcher) Pending() int { return int(b.pending.Load()) }

// bucket returns the start of the time bucket of an item's time and whether
// the item had one (event time). An item without one joins any batch dated by
// the clock, and a new such batch is dated when it opens (newOpenBatch).
func (b *Batcher) bucket(t time.Time) (time.Time, bool) {
	if t.IsZero() {
		return time.Time{}, false
	}
	return truncateBucket(t, b.cfg.PartitionLayout), true
}

func (b *Batcher) newOpenBatch(at time.Time, event bool) *openBatch {
	ob := &openBatch{first: b.now(), at: at, event: event}
	if !event {
		ob.at = truncateBucket(ob.first, b.cfg.PartitionLayout)
	}
	ob.buf, _ = b.bodies.Get().(*bytes.Buffer)
	if ob.buf == nil {
		ob.buf = new(bytes.Buffer)
	}
	ob.enc = b.encoders.encoder(ob.buf)
	return ob
}

// sealLocked closes every open batch of p (every time bucket) and queues them
// for upload. p.mu must be held.
func (b *Batcher) sealLocked(tp topicPartition, p *partition) {
	for len(p.open) > 0 {
		b.sealAtLocked(tp, p, 0)
	}
}

// sealAtLocked closes p's i-th open batch and queues it for upload. p.mu must
// be held.
func (b *Batcher) sealAtLocked(tp topicPartition, p *partition, i int) {
	ob := p.open[i]
	p.open = slices.Delete(p.open, i, i+1)
	if err := ob.enc.finish(); err != nil && ob.err == nil {
		ob.err = fmt.Errorf("sinks: finish %s object: %w", b.cfg.Format, err)
	}
	ob.enc = nil
	sb := &sealedBatch{
		tp:          tp,
		key:         objectKey(b.cfg.Prefix, tp.topic, tp.partition, ob.minOff, ob.maxOff, ob.at, b.cfg.PartitionLayout, suffix(b.cfg)),
		contentType: b.contentType,
		records:     ob.records,
		body:        ob.buf.Bytes(),
		buf:         ob.buf,
		dones:       ob.dones,
		done:        make(chan struct{}),
	}
	sb.ctx, sb.cancel = context.WithCancelCause(b.life)
	b.m.batchRecords.Observe(float64(sb.records))
	b.m.batchBytes.Observe(float64(len(sb.body)))
	if ob.err != nil {
		b.log.Error("sink batch could not be built", "key", sb.key, "records", sb.records, "err", ob.err)
		sb.state = stateAbandoned
		b.finish(sb, ob.err)
		return
	}
	b.mu.Lock()
	set := b.inflight[tp]
	if set == nil {
		set = make(map[*sealedBatch]struct{})
		b.inflight[tp] = set
	}
	set[sb] = struct{}{}
	b.queue = append(b.queue, sb)
	b.mu.Unlock()
	b.wake.Signal()
}
