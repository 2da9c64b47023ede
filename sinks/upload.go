package sinks

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// runWorker uploads queued batches until Close stops the workers.
func (b *Batcher) runWorker() {
	defer b.workers.Done()
	for {
		sb := b.nextQueued()
		if sb == nil {
			return
		}
		b.upload(sb)
	}
}

// nextQueued waits for a queued batch and takes ownership of it; nil means stop.
func (b *Batcher) nextQueued() *sealedBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.queue) == 0 && !b.stopping {
		b.wake.Wait()
	}
	if len(b.queue) == 0 {
		return nil
	}
	sb := b.queue[0]
	b.queue[0] = nil
	b.queue = b.queue[1:]
	sb.state = stateUploading
	return sb
}

// upload puts sb until it succeeds or sb.ctx ends (a flush or Close gave up on it),
// then finishes it. It logs when the batch starts failing and when it recovers, not
// on every retry.
func (b *Batcher) upload(sb *sealedBatch) {
	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(b.cfg.RetryInitial),
		backoff.WithMaxInterval(b.cfg.RetryMax),
		backoff.WithMaxElapsedTime(0), // only the batch's context ends the retries
	)
	var lastErr error
	var failingSince time.Time
	for attempt := 1; ; attempt++ {
		if sb.ctx.Err() != nil {
			b.giveUp(sb, attempt-1, lastErr)
			return
		}
		attemptCtx, cancel := context.WithTimeout(sb.ctx, b.cfg.UploadTimeout)
		start := time.Now()
		err := b.store.Put(attemptCtx, sb.key, sb.body, sb.contentType, "")
		cancel()
		b.m.uploadDuration.Observe(time.Since(start).Seconds())
		if err == nil {
			if attempt > 1 {
				b.log.Info("sink upload recovered", "key", sb.key, "records", sb.records,
					"attempts", attempt, "failed_for", time.Since(failingSince).Round(time.Millisecond))
			}
			buf := sb.buf
			b.finish(sb, nil)
			if attempt == 1 {
				// Only a first attempt's buffer is reused: a failed
				// attempt's request may still be reading its body.
				buf.Reset()
				b.bodies.Put(buf)
			}
			return
		}
		lastErr = err
		if sb.ctx.Err() != nil {
			b.giveUp(sb, attempt, lastErr)
			return
		}
		if attempt == 1 {
			failingSince = start
			b.log.Warn("sink upload failing, retrying", "key", sb.key, "records", sb.records, "err", err)
		}
		b.m.uploadRetries.Inc()
		wait := time.NewTimer(bo.NextBackOff())
		select {
		case <-wait.C:
		case <-sb.ctx.Done():
			wait.Stop()
		}
	}
}

// giveUp finishes sb with an error saying why it is not durable.
func (b *Batcher) giveUp(sb *sealedBatch, attempts int, lastErr error) {
	err := fmt.Errorf("%w: %s after %d attempts: %w", ErrGaveUp, sb.key, attempts, context.Cause(sb.ctx))
	if lastErr != nil {
		err = fmt.Errorf("%w (last upload error: %w)", err, lastErr)
	}
	b.log.Error("sink upload gave up", "key", sb.key, "records", sb.records, "attempts", attempts, "err", err)
	b.finish(sb, err)
}

// finish calls every Done of sb with err, exactly once per line, and releases sb.
// Only the owner of sb calls it: the worker that took it from the queue, the give-up
// that took it from the queue, or the sealer when the batch could not be built.
func (b *Batcher) finish(sb *sealedBatch, err error) {
	for _, done := range sb.dones {
		if done != nil {
			done(err)
		}
	}
	n := int64(len(sb.dones))
	b.pending.Add(-n)
	b.m.pending.Sub(float64(n))
	if err == nil {
		b.m.batchesOK.Inc()
	} else {
		b.m.batchesFailed.Inc()
	}
	b.mu.Lock()
	if set := b.inflight[sb.tp]; set != nil {
		delete(set, sb)
		if len(set) == 0 {
			delete(b.inflight, sb.tp)
		}
	}
	sb.state = stateFinished
	b.mu.Unlock()
	sb.err = err
	sb.body, sb.dones = nil, nil
	sb.cancel(nil)
	close(sb.done)
}
