package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// PartitionRange is the span of offsets a partition holds: from Start, the
// oldest retained offset, up to End, the high-water mark (exclusive).
type PartitionRange struct {
	Partition  int32
	Start, End int64
}

// Reader reads partitions without a consumer group: it never joins a group
// and never commits. Kafka implements it; tests use an in-memory one.
type Reader interface {
	// Partitions returns every partition of topic with its range, in
	// partition order. A topic that does not exist is a *TopicNotFoundError.
	Partitions(ctx context.Context, topic string) ([]PartitionRange, error)
	// Read calls fn with each message of topic/partition whose offset is in
	// [from, to), in offset order.
	Read(ctx context.Context, topic string, partition int32, from, to int64, fn func(Message) error) error
	// Follow calls fn with each message of topic/partition from offset
	// from on, as it arrives, until ctx ends; it then returns nil.
	Follow(ctx context.Context, topic string, partition int32, from int64, fn func(Message) error) error
}

// ErrTopicNotFound is what a *TopicNotFoundError is.
var ErrTopicNotFound = errors.New("topic does not exist")

// TopicNotFoundError names a topic that does not exist.
type TopicNotFoundError struct {
	Topic   string
	Brokers []string
}

// Error names the topic and the brokers asked.
func (e *TopicNotFoundError) Error() string {
	return fmt.Sprintf("topic %q does not exist on brokers %s", e.Topic, strings.Join(e.Brokers, ","))
}

// Is makes errors.Is(err, ErrTopicNotFound) true.
func (e *TopicNotFoundError) Is(target error) bool { return target == ErrTopicNotFound }

// Progress is told how many offsets of a scan are done out of total. It is
// called often; it must be cheap and must not block.
type Progress func(done, total int64)

// Scanner reads whole topics into decoded records.
type Scanner struct {
	Reader Reader
	// Progress, if set, follows each scan. It is called from several
	// goroutines.
	Progress Progress
	// Parallel is how many partitions are read at once, and so how many
	// partitions' worth of selected records are held at most. Default 8.
	Parallel int
}

// partitionScan is one partition read up to the end it had when the scan
// began.
type partitionScan struct {
	Range   PartitionRange
	Markers map[int64]Marker // replay markers by the offset they mark
	NMarker int64            // markers read, including repeated ones
	err     error
}

// scan reads the partitions of t, several at once, and calls done once per
// partition, in partition order, with the markers found in it. open is
// called for each partition before it is read and returns the function that
// sees its records (markers excluded), from one goroutine, in offset order.
// A marker follows the record it marks in the same partition, so when done
// is called a partition's markers are all known. done returns stop=true to
// end the scan early.
//
// Reading partitions one after another would be slow: sarama batches new
// partition subscriptions for 100 ms. A partition is not started before
// done has taken the one Parallel places before it, which bounds memory.
func (s Scanner) scan(ctx context.Context, t Topic, open func(PartitionRange) func(Record), done func(partitionScan) (stop bool, err error)) error {
	ranges, err := s.Reader.Partitions(ctx, t.Name)
	if err != nil {
		return err
	}
	var total int64
	for _, r := range ranges {
		total += r.End - r.Start
	}
	var progress atomic.Int64
	parallel := s.Parallel
	if parallel < 1 {
		parallel = 8
	}
	// On return, first cancel the reads still going, then wait for them.
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan partitionScan, len(ranges))
	for i := range results {
		results[i] = make(chan partitionScan, 1) // never blocks a reader
	}
	slots := make(chan struct{}, parallel)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, pr := range ranges {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			visit := open(pr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] <- s.readPartition(ctx, t, pr, visit, &progress, total)
			}()
		}
	}()
	for i := range ranges {
		var ps partitionScan
		select {
		case ps = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-slots
		if ps.err != nil {
			return fmt.Errorf("reading %s partition %d: %w", t.Name, ps.Range.Partition, ps.err)
		}
		stop, err := done(ps)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

// readPartition reads one partition for scan.
func (s Scanner) readPartition(ctx context.Context, t Topic, pr PartitionRange, visit func(Record), progress *atomic.Int64, total int64) partitionScan {
	ps := partitionScan{Range: pr, Markers: map[int64]Marker{}}
	if pr.End <= pr.Start {
		return ps
	}
	var seen int64
	ps.err = s.Reader.Read(ctx, t.Name, pr.Partition, pr.Start, pr.End, func(m Message) error {
		if s.Progress != nil {
			n := m.Offset - pr.Start + 1 - seen
			seen += n
			s.Progress(progress.Add(n), total)
		}
		rec := decode(t, m)
		if mk := rec.Marker; mk != nil {
			ps.NMarker++
			if _, dup := ps.Markers[mk.Of.Offset]; !dup {
				ps.Markers[mk.Of.Offset] = *mk
			}
			return nil
		}
		visit(rec)
		return nil
	})
	if s.Progress != nil && ps.err == nil {
		// Count offsets without a record (none in redrive's topics) too,
		// so that the bar ends full.
		s.Progress(progress.Add(pr.End-pr.Start-seen), total)
	}
	return ps
}

// SelectOptions tune Select.
type SelectOptions struct {
	// SkipReplayed leaves out records that were already replayed, before
	// the limit is counted, and counts them in Selection.Replayed.
	SkipReplayed bool
}

// Selection is what Select found.
type Selection struct {
	Matched  int // records emitted
	Replayed int // matching records left out because they were already replayed
}

// Select reads t and calls emit once per partition that has matching
// records, in partition order, with those records in offset order, each
// annotated with its replay marker. It stops after f.Limit records.
func (s Scanner) Select(ctx context.Context, t Topic, f Filter, opts SelectOptions, emit func([]Record) error) (Selection, error) {
	var sel Selection
	var mu sync.Mutex
	batches := map[int32]*[]Record{}
	err := s.scan(ctx, t,
		func(pr PartitionRange) func(Record) {
			batch := new([]Record)
			mu.Lock()
			batches[pr.Partition] = batch
			mu.Unlock()
			return func(r Record) {
				if f.Match(r) {
					*batch = append(*batch, r)
				}
			}
		},
		func(ps partitionScan) (bool, error) {
			mu.Lock()
			batch := *batches[ps.Range.Partition]
			delete(batches, ps.Range.Partition)
			mu.Unlock()
			var out []Record
			for _, r := range batch {
				if mk, ok := ps.Markers[r.Offset]; ok {
					r.Replay = &mk
					if opts.SkipReplayed {
						sel.Replayed++
						continue
					}
				}
				if f.Limit == 0 || sel.Matched+len(out) < f.Limit {
					out = append(out, r)
				}
			}
			sel.Matched += len(out)
			if len(out) > 0 {
				if err := emit(out); err != nil {
					return true, err
				}
			}
			return f.Limit > 0 && sel.Matched >= f.Limit, nil
		})
	return sel, err
}

// Find reads the record at c in t, annotated with its replay marker (which
// is searched for in the rest of the partition, parking topic only). A
// marker itself is returned as a record with Replay pointing at itself.
func (s Scanner) Find(ctx context.Context, t Topic, c Coord) (Record, error) {
	ranges, err := s.Reader.Partitions(ctx, t.Name)
	if err != nil {
		return Record{}, err
	}
	var pr *PartitionRange
	for i := range ranges {
		if ranges[i].Partition == c.Partition {
			pr = &ranges[i]
		}
	}
	switch {
	case pr == nil:
		return Record{}, fmt.Errorf("%s has no partition %d (it has %d partitions)", t.Name, c.Partition, len(ranges))
	case c.Offset < pr.Start:
		return Record{}, fmt.Errorf("%s partition %d: offset %d is gone; the oldest retained offset is %d", t.Name, c.Partition, c.Offset, pr.Start)
	case c.Offset >= pr.End:
		return Record{}, fmt.Errorf("%s partition %d: offset %d is not written yet; the partition ends at offset %d", t.Name, c.Partition, c.Offset, pr.End)
	}
	var rec *Record
	to := c.Offset + 1
	if t.Role == RoleParking {
		to = pr.End
	}
	err = s.Reader.Read(ctx, t.Name, c.Partition, c.Offset, to, func(m Message) error {
		r := decode(t, m)
		switch {
		case m.Offset == c.Offset:
			rec = &r
		case r.Marker != nil && rec != nil && r.Marker.Of.Offset == c.Offset && rec.Replay == nil:
			rec.Replay = r.Marker
		}
		return nil
	})
	if err != nil {
		return Record{}, fmt.Errorf("reading %s partition %d: %w", t.Name, c.Partition, err)
	}
	if rec == nil {
		return Record{}, fmt.Errorf("%s partition %d: no record at offset %d (compacted or a transaction marker)", t.Name, c.Partition, c.Offset)
	}
	return *rec, nil
}
