package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producer writes workload records with franz-go: lz4-compressed batches,
// lingering a little so that batches fill, records spread round-robin over
// the partitions. Producing is never part of a measured window.
type producer struct {
	client     *kgo.Client
	topic      string
	partitions int32
	gen        *recordGen
	fraction   float64 // of the records that need enrichment

	mu     sync.Mutex
	errs   []error
	failed int
}

func newProducer(brokers []string, topic string, partitions int32, gen *recordGen, fraction float64) (*producer, error) {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("redrive-bench-producer"),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(20000),
	)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return &producer{client: client, topic: topic, partitions: partitions, gen: gen, fraction: fraction}, nil
}

// Produce writes record i; it blocks while the producer's buffer is full.
func (p *producer) Produce(ctx context.Context, i int) {
	r := &kgo.Record{
		Key:       p.gen.Key(nil, i),
		Value:     p.gen.Value(make([]byte, 0, p.gen.size+64), i, categoryOf(i, p.fraction)),
		Partition: int32(i) % p.partitions,
	}
	p.client.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			p.failed++
			if len(p.errs) < 3 {
				p.errs = append(p.errs, err)
			}
			p.mu.Unlock()
		}
	})
}

// Close flushes what is buffered and reports failed writes.
func (p *producer) Close(ctx context.Context) error {
	err := p.client.Flush(ctx)
	p.client.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed > 0 {
		err = errors.Join(err, fmt.Errorf("%d records not written, e.g. %w", p.failed, errors.Join(p.errs...)))
	}
	return err
}

// produceAll writes records 0..n-1 as fast as the broker takes
// them and returns the time it took.
func produceAll(ctx context.Context, brokers []string, topic string, partitions int32, gen *recordGen, fraction float64, n int) (time.Duration, error) {
	start := time.Now()
	p, err := newProducer(brokers, topic, partitions, gen, fraction)
	if err != nil {
		return 0, err
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		p.Produce(ctx, i)
	}
	err = errors.Join(ctx.Err(), p.Close(ctx))
	return time.Since(start), err
}

// producePaced writes records at rate per second from index 0 until stop is
// closed, and returns how many it wrote. It writes in ticks of 10 ms, so the
// flow is smooth at the scale the workloads measure.
func producePaced(ctx context.Context, brokers []string, topic string, partitions int32, gen *recordGen, fraction float64, rate int, stop <-chan struct{}) (int, error) {
	p, err := newProducer(brokers, topic, partitions, gen, fraction)
	if err != nil {
		return 0, err
	}
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	n := 0
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-ctx.Done():
			break loop
		case now := <-t.C:
			due := int(now.Sub(start).Seconds() * float64(rate))
			for ; n < due; n++ {
				p.Produce(ctx, n)
			}
		}
	}
	return n, errors.Join(ctx.Err(), p.Close(context.WithoutCancel(ctx)))
}

// pacedFlow is a producePaced run in the background.
type pacedFlow struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	n        int
	err      error
}

// startPaced starts producePaced in the background; Stop ends it.
func startPaced(ctx context.Context, brokers []string, topic string, partitions int32, gen *recordGen, fraction float64, rate int) *pacedFlow {
	f := &pacedFlow{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.n, f.err = producePaced(ctx, brokers, topic, partitions, gen, fraction, rate, f.stop)
	}()
	return f
}

// Stop ends the flow and returns how many records it wrote; calling it
// again returns the same.
func (f *pacedFlow) Stop() (int, error) {
	f.stopOnce.Do(func() { close(f.stop) })
	<-f.done
	return f.n, f.err
}
