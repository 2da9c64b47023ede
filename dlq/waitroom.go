package dlq

import (
	"container/heap"
	"sync"
	"time"
)

// WaitRoom holds dead-lettered records until their not-before time, then
// hands each to a callback. It never sleeps in the caller: a single timer is
// armed for the earliest record. It has no capacity: records already
// fetched still arrive after a pause and must be accepted, so the owner
// bounds it by pausing fetching on Len (the pipeline pauses at
// --max-waiting and resumes at half).
type WaitRoom[T any] struct {
	due func(T)
	now func() time.Time

	mu     sync.Mutex
	items  waitHeap[T]
	seq    uint64 // keeps records with equal not-before times in arrival order
	timer  *time.Timer
	closed bool
}

// NewWaitRoom returns a room that calls due (from its own timer goroutine)
// for each record whose time has come.
func NewWaitRoom[T any](due func(T)) *WaitRoom[T] {
	return &WaitRoom[T]{due: due, now: time.Now}
}

// Add holds item until notBefore. An item already due is handed to the
// callback at once, on the timer goroutine, never on the caller's.
func (w *WaitRoom[T]) Add(notBefore time.Time, item T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		// A closed room belongs to a revoked partition; its owner drains
		// everything and must not add more. Holding it would lose it.
		panic("dlq: Add on a closed WaitRoom")
	}
	w.seq++
	heap.Push(&w.items, waiting[T]{at: notBefore, seq: w.seq, item: item})
	w.arm()
}

// Len is the number of records held.
func (w *WaitRoom[T]) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.items)
}

// Close stops the timer and returns every record still held, earliest first,
// so that the owner can hand them on (on a revoke: back to the DLQ as they
// are). No callback runs after Close returns... except one already running.
func (w *WaitRoom[T]) Close() []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	out := make([]T, 0, len(w.items))
	for len(w.items) > 0 {
		out = append(out, heap.Pop(&w.items).(waiting[T]).item)
	}
	return out
}

// arm sets the timer for the earliest record; w.mu is held.
func (w *WaitRoom[T]) arm() {
	if len(w.items) == 0 {
		return
	}
	d := w.items[0].at.Sub(w.now())
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
		return
	}
	w.timer.Reset(d)
}

// fire hands every due record to the callback, outside the lock, and
// re-arms the timer for the next one.
func (w *WaitRoom[T]) fire() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	now := w.now()
	var ready []T
	for len(w.items) > 0 && !w.items[0].at.After(now) {
		ready = append(ready, heap.Pop(&w.items).(waiting[T]).item)
	}
	w.arm()
	w.mu.Unlock()
	for _, it := range ready {
		w.due(it)
	}
}

type waiting[T any] struct {
	at   time.Time
	seq  uint64
	item T
}

type waitHeap[T any] []waiting[T]

func (h waitHeap[T]) Len() int { return len(h) }
func (h waitHeap[T]) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h waitHeap[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *waitHeap[T]) Push(x any)   { *h = append(*h, x.(waiting[T])) }
func (h *waitHeap[T]) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = waiting[T]{}
	*h = old[:len(old)-1]
	return it
}
