package pipeline

import "sync"

// workQueue runs enrichment calls on at most limit goroutines. The goka
// callback only appends to the queue (it must not block), and the queue is
// bounded by the partitions' pending windows, so goroutines stay bounded by
// the enrichment concurrency however large the backlog (invariant 5).
type workQueue struct {
	limit int
	run   func(*record)
	wg    *sync.WaitGroup

	mu      sync.Mutex
	queue   []*record
	head    int
	workers int
}

// push queues rec and starts a worker if fewer than limit are running.
func (q *workQueue) push(rec *record) {
	rec.own() // it waits for a worker, and is read by one
	q.mu.Lock()
	q.queue = append(q.queue, rec)
	start := q.workers < q.limit
	if start {
		q.workers++
		q.wg.Add(1)
	}
	q.mu.Unlock()
	if start {
		go q.work()
	}
}

// work drains the queue and exits when it is empty, so idle pipelines hold
// no enrichment goroutines.
func (q *workQueue) work() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if q.head == len(q.queue) {
			q.queue, q.head = q.queue[:0], 0
			q.workers--
			q.mu.Unlock()
			return
		}
		rec := q.queue[q.head]
		q.queue[q.head] = nil
		q.head++
		q.mu.Unlock()
		q.run(rec)
	}
}

// take removes and returns the queued records that match, in queue order:
// a revoked partition takes its records back instead of waiting for
// workers busy with other partitions.
func (q *workQueue) take(match func(*record) bool) []*record {
	q.mu.Lock()
	defer q.mu.Unlock()
	var taken []*record
	kept := q.queue[:q.head]
	for _, rec := range q.queue[q.head:] {
		if match(rec) {
			taken = append(taken, rec)
		} else {
			kept = append(kept, rec)
		}
	}
	clear(q.queue[len(kept):])
	q.queue = kept
	return taken
}

// length is the number of records waiting for a worker.
func (q *workQueue) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue) - q.head
}
