package sinks

import (
	"context"
	"fmt"
)

// FlushPartition seals the open batches of (topic, partition), one per time
// bucket, and waits until every batch of that topic-partition sealed so far,
// including those already uploading, is durable. When ctx ends first, those batches give up: their Done functions get a
// non-nil error and FlushPartition returns one. Other topic-partitions are untouched.
// Used when a partition is revoked.
func (b *Batcher) FlushPartition(ctx context.Context, topic string, partition int32) error {
	tp := topicPartition{topic, partition}
	b.Seal(topic, partition)
	b.mu.Lock()
	batches := make([]*sealedBatch, 0, len(b.inflight[tp]))
	for sb := range b.inflight[tp] {
		batches = append(batches, sb)
	}
	b.mu.Unlock()
	if err := b.await(ctx, batches, fmt.Sprintf("flush of %s/%d", topic, partition)); err != nil {
		return fmt.Errorf("sinks: flush %s/%d: %w", topic, partition, err)
	}
	return nil
}

// Seal queues the open batches of (topic, partition), every time bucket's, for
// upload now, whatever their size and age, and returns without waiting. The pipeline seals
// a partition whose window is full: its records are released only once
// their batch is durable, so an open batch that cannot grow must not wait
// for MaxAge. A batch that cannot be built gets its Done functions called
// before Seal returns, so the caller must not hold a lock those take.
func (b *Batcher) Seal(topic string, partition int32) {
	tp := topicPartition{topic, partition}
	b.mu.Lock()
	p := b.parts[tp]
	b.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		b.sealLocked(tp, p)
		p.mu.Unlock()
	}
}

// Close seals every open batch and waits for all uploads. When ctx ends first, every
// batch not yet durable gives up (its Done functions get a non-nil error) and Close
// returns an error counting them. Either way, on return every Done has been called
// and the Batcher's goroutines have ended. Items added after Close has begun get
// Done(ErrClosed); a second Close returns ErrClosed.
func (b *Batcher) Close(ctx context.Context) error {
	if !b.closeCalled.CompareAndSwap(false, true) {
		return ErrClosed
	}
	close(b.agerStop)
	<-b.agerDone

	b.mu.Lock()
	b.closed.Store(true)
	b.mu.Unlock()
	for tp, p := range b.snapshotParts() {
		p.mu.Lock()
		b.sealLocked(tp, p)
		p.mu.Unlock()
	}
	b.mu.Lock()
	var batches []*sealedBatch
	for _, set := range b.inflight {
		for sb := range set {
			batches = append(batches, sb)
		}
	}
	b.mu.Unlock()
	err := b.await(ctx, batches, "close")

	b.stopLife(ErrClosed)
	b.mu.Lock()
	b.stopping = true
	b.mu.Unlock()
	b.wake.Broadcast()
	b.workers.Wait()
	if err != nil {
		return fmt.Errorf("sinks: close: %w", err)
	}
	return nil
}

// await waits until every batch is finished. If ctx ends first, it gives up on the
// unfinished ones (what names the caller in their error) and waits for them to
// finish, which is prompt because Store.Put honours its context. It returns an error
// counting the batches that are not durable, wrapping the first one's error.
func (b *Batcher) await(ctx context.Context, batches []*sealedBatch, what string) error {
	for _, sb := range batches {
		select {
		case <-sb.done:
			continue
		case <-ctx.Done():
		}
		b.abandon(batches, fmt.Errorf("%s ended: %w", what, context.Cause(ctx)))
		break
	}
	var failed, records int
	var first error
	for _, sb := range batches {
		<-sb.done
		if sb.err != nil {
			failed++
			records += sb.records
			if first == nil {
				first = sb.err
			}
		}
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d batches (%d records) not durable: %w", failed, len(batches), records, first)
}

// abandon gives up on the unfinished batches: a queued one is taken out of the queue
// and finished here with an error; an uploading one has its context cancelled, so its
// worker stops retrying and finishes it.
func (b *Batcher) abandon(batches []*sealedBatch, cause error) {
	var taken map[*sealedBatch]bool
	b.mu.Lock()
	for _, sb := range batches {
		switch sb.state {
		case stateQueued:
			if taken == nil {
				taken = make(map[*sealedBatch]bool)
			}
			taken[sb] = true
			sb.state = stateAbandoned
		case stateUploading:
			sb.cancel(cause)
		}
	}
	if taken != nil {
		kept := b.queue[:0]
		for _, sb := range b.queue {
			if !taken[sb] {
				kept = append(kept, sb)
			}
		}
		clear(b.queue[len(kept):])
		b.queue = kept
	}
	b.mu.Unlock()
	for sb := range taken {
		sb.cancel(cause)
		b.finish(sb, fmt.Errorf("%w: %s never uploaded: %w", ErrGaveUp, sb.key, cause))
	}
}
