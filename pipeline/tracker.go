package pipeline

import (
	"sync"
	"time"
)

// tracker releases goka's deferred commits of one topic-partition in offset
// order. goka marks offset+1 when a deferred commit is released, and sarama
// keeps the highest offset it is given, so releasing a later record before
// an earlier one would commit past a record that is not yet durable.
// Records complete out of order; the tracker releases only the contiguous
// completed prefix.
type tracker struct {
	mu      sync.Mutex
	entries []*entry // in arrival (= offset) order; entries[:head] are released
	head    int
	failed  error // set by the first failed completion; every later release carries an error too
}

// entry is one tracked record.
type entry struct {
	offset  int64
	read    time.Time // when this process read the record
	release func(error)
	done    bool
	err     error
}

// add registers a record read at time read, in arrival order. goka
// delivers a topic-partition's records in offset order, so entries stay
// sorted.
func (t *tracker) add(offset int64, read time.Time, release func(error)) *entry {
	e := &entry{offset: offset, read: read, release: release}
	t.mu.Lock()
	t.entries = append(t.entries, e)
	t.mu.Unlock()
	return e
}

// complete marks e finished (err non-nil when it is not durable and the
// processor must stop) and releases every record of the completed prefix.
// It returns how many records were released.
func (t *tracker) complete(e *entry, err error) int {
	t.mu.Lock()
	if e.done {
		t.mu.Unlock()
		panic("pipeline: record completed twice")
	}
	e.done, e.err = true, err
	var ready []*entry
	for t.head < len(t.entries) && t.entries[t.head].done {
		ready = append(ready, t.entries[t.head])
		t.entries[t.head] = nil
		t.head++
	}
	// Compact once the released prefix dominates, keeping add amortised O(1).
	if t.head > 1024 && t.head*2 > len(t.entries) {
		t.entries = append(t.entries[:0], t.entries[t.head:]...)
		t.head = 0
	}
	// Decide each release's error under the lock so that a failure poisons
	// every later record even if releases race.
	errs := make([]error, len(ready))
	for i, r := range ready {
		if r.err != nil && t.failed == nil {
			t.failed = r.err
		}
		errs[i] = t.failed
	}
	t.mu.Unlock()
	// Release outside the lock: goka's release takes its own locks. Two
	// completions may release their prefixes concurrently, in either order;
	// that is safe because every record released is already durable (or
	// carries an error, which goka never commits).
	for i, r := range ready {
		r.release(errs[i])
	}
	return len(ready)
}

// outstanding is the number of records added and not yet released.
func (t *tracker) outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries) - t.head
}

// oldest returns when the oldest record not yet released was read; ok is
// false when every record is released. Entries are in offset order and
// only a completed prefix is released, so the oldest is the first one
// after it: a record that is durable but waits for an earlier one counts
// as pending until that one is done, as its commit does.
func (t *tracker) oldest() (read time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head == len(t.entries) {
		return time.Time{}, false
	}
	return t.entries[t.head].read, true
}
