package sinks

import "time"

// agerInterval checks ages four times per MaxAge, but at least once a second and at
// most every 5 ms, so a batch outlives MaxAge by at most a quarter of it (or one
// second).
func agerInterval(maxAge time.Duration) time.Duration {
	return min(max(maxAge/4, 5*time.Millisecond), time.Second)
}

// runAger seals batches older than MaxAge until Close stops it.
func (b *Batcher) runAger(interval time.Duration) {
	defer close(b.agerDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.agerStop:
			return
		case <-t.C:
			b.sealAged()
		}
	}
}

// sealAged seals every open batch whose first line is at least MaxAge old by the clock.
func (b *Batcher) sealAged() {
	now := b.now()
	for tp, p := range b.snapshotParts() {
		p.mu.Lock()
		for i := 0; i < len(p.open); {
			if now.Sub(p.open[i].first) >= b.cfg.MaxAge {
				b.sealAtLocked(tp, p, i)
				continue
			}
			i++
		}
		p.mu.Unlock()
	}
}

// snapshotParts copies the partition map so that its batches can be sealed without
// holding Batcher.mu (lock order: partition.mu first).
func (b *Batcher) snapshotParts() map[topicPartition]*partition {
	b.mu.Lock()
	defer b.mu.Unlock()
	parts := make(map[topicPartition]*partition, len(b.parts))
	for tp, p := range b.parts {
		parts[tp] = p
	}
	return parts
}
