package inspect

import (
	"context"
	"sync"
	"time"
)

// PartitionStats are the figures of one partition, or of a whole topic.
type PartitionStats struct {
	// Partition is nil for a topic's total.
	Partition *int32 `json:"partition,omitempty"`
	// Start and End are the oldest retained offset and the high-water mark
	// (for a total: their sums, so End-Start is the retained span).
	Start int64 `json:"start_offset"`
	End   int64 `json:"end_offset"`
	// Records counts the records, replay markers excluded. For the input
	// topic, which is not read, it is the retained span End-Start.
	Records int64 `json:"records"`
	// ReplayMarkers counts the replay markers (parking topic only).
	ReplayMarkers int64 `json:"replay_markers"`
	// Replayed counts the records that have a replay marker.
	Replayed int64 `json:"replayed"`
	// OldestFailure and NewestFailure bound the records' first failures.
	OldestFailure *time.Time `json:"oldest_failure"`
	NewestFailure *time.Time `json:"newest_failure"`
	// ByClass counts records by error class; ByAttempt by failed attempts.
	// Records whose envelope cannot be decoded count as ClassBadEnvelope
	// and under no attempt.
	ByClass   map[string]int64 `json:"by_class,omitempty"`
	ByAttempt map[int]int64    `json:"by_attempt,omitempty"`
	// Committed is the pipeline group's committed offset, nil when it has
	// none (or does not consume the topic).
	Committed *int64 `json:"committed_offset"`
	// Lag is how many records the group has yet to read: End minus its
	// committed offset (or minus Start when it has none). Nil for the
	// parking topic, which the group does not consume.
	Lag *int64 `json:"lag"`
	// Waiting is what waits now, as opposed to what is merely retained:
	// for the DLQ and the input topic, the records at or after the group's
	// committed offset, which it has yet to process (every retained record
	// when it has none); for the parking topic, the records not replayed.
	// After an outage has drained, a DLQ retains thousands of records and
	// has none waiting.
	Waiting int64 `json:"waiting"`
	// WaitingByClass counts the DLQ's waiting records by error class.
	WaitingByClass map[string]int64 `json:"waiting_by_class,omitempty"`
}

// TopicStats are the figures of one topic, per partition and in total.
type TopicStats struct {
	Topic string `json:"topic"`
	Role  Role   `json:"role"`
	Group string `json:"group,omitempty"` // whose lag is reported
	// NoCommittedOffsets: Group has no committed offset on any partition
	// of the topic, so its lag counts every retained record. A mistyped
	// --group looks exactly like this.
	NoCommittedOffsets bool             `json:"no_committed_offsets,omitempty"`
	Total              PartitionStats   `json:"total"`
	Partitions         []PartitionStats `json:"partitions"`
}

// Stats reads every record of t and counts it. A scan sees each partition as
// it was when its scan began; records written since are not counted. Every
// DLQ record counts as waiting: see StatsSince.
func (s Scanner) Stats(ctx context.Context, t Topic) (TopicStats, error) {
	return s.StatsSince(ctx, t, nil)
}

// StatsSince is Stats, with the DLQ records at or after committed[partition]
// (the pipeline group's committed offsets; missing or negative: none)
// counted as waiting.
func (s Scanner) StatsSince(ctx context.Context, t Topic, committed map[int32]int64) (TopicStats, error) {
	ts := TopicStats{Topic: t.Name, Role: t.Role}
	var mu sync.Mutex
	parts := map[int32]*PartitionStats{}
	err := s.scan(ctx, t,
		func(pr PartitionRange) func(Record) {
			ps := &PartitionStats{}
			mu.Lock()
			parts[pr.Partition] = ps
			mu.Unlock()
			from := int64(-1)
			if c, ok := committed[pr.Partition]; ok && c >= 0 {
				from = c
			}
			return func(r Record) {
				ps.add(r)
				if t.Role == RoleDLQ && r.Offset >= from {
					ps.addWaiting(r)
				}
			}
		},
		func(ps partitionScan) (bool, error) {
			p := ps.Range.Partition
			mu.Lock()
			cur := *parts[p]
			delete(parts, p)
			mu.Unlock()
			cur.Partition = &p
			cur.Start, cur.End = ps.Range.Start, ps.Range.End
			cur.ReplayMarkers = ps.NMarker
			for off := range ps.Markers {
				// A marker can outlive the record it marks by a
				// little when retention deletes the older one.
				if off >= ps.Range.Start {
					cur.Replayed++
				}
			}
			if t.Role == RoleParking {
				cur.Waiting = max(cur.Records-cur.Replayed, 0)
			}
			ts.Partitions = append(ts.Partitions, cur)
			return false, nil
		})
	if err != nil {
		return ts, err
	}
	ts.sum()
	return ts, nil
}

// Offsets describes a topic that is not read, only measured (the input
// topic): its ranges, with Records the retained span.
func (s Scanner) Offsets(ctx context.Context, t Topic) (TopicStats, error) {
	ranges, err := s.Reader.Partitions(ctx, t.Name)
	if err != nil {
		return TopicStats{}, err
	}
	ts := TopicStats{Topic: t.Name, Role: t.Role}
	for _, r := range ranges {
		p := r.Partition
		ts.Partitions = append(ts.Partitions, PartitionStats{Partition: &p, Start: r.Start, End: r.End, Records: r.End - r.Start})
	}
	ts.sum()
	return ts, nil
}

// SetLag fills in the group's committed offsets (by partition; a negative
// offset means none) and the lag of each partition and of the total.
func (ts *TopicStats) SetLag(group string, committed map[int32]int64) {
	ts.Group = group
	var total int64
	var anyCommitted bool
	var sumCommitted int64
	for i := range ts.Partitions {
		p := &ts.Partitions[i]
		from := p.Start
		if c, ok := committed[*p.Partition]; ok && c >= 0 {
			c := c
			p.Committed = &c
			anyCommitted = true
			sumCommitted += c
			from = max(c, p.Start)
		}
		lag := max(p.End-from, 0)
		p.Lag = &lag
		total += lag
		if ts.Role == RoleInput {
			p.Waiting = lag
		}
	}
	ts.Total.Lag = &total
	if ts.Role == RoleInput {
		ts.Total.Waiting = total
	}
	if anyCommitted {
		ts.Total.Committed = &sumCommitted
	}
	ts.NoCommittedOffsets = !anyCommitted && len(ts.Partitions) > 0
}

// add counts one record.
func (ps *PartitionStats) add(r Record) {
	ps.Records++
	if ps.ByClass == nil {
		ps.ByClass, ps.ByAttempt = map[string]int64{}, map[int]int64{}
	}
	ps.ByClass[r.Class()]++
	if r.EnvelopeErr != nil {
		return
	}
	ps.ByAttempt[r.Envelope.Attempt]++
	ps.failure(r.Envelope.FirstFailure, r.Envelope.FirstFailure)
}

// addWaiting counts one record that waits.
func (ps *PartitionStats) addWaiting(r Record) {
	ps.Waiting++
	if ps.WaitingByClass == nil {
		ps.WaitingByClass = map[string]int64{}
	}
	ps.WaitingByClass[r.Class()]++
}

// failure widens the first-failure bounds to [oldest, newest].
func (ps *PartitionStats) failure(oldest, newest time.Time) {
	if oldest.IsZero() || newest.IsZero() {
		return
	}
	if ps.OldestFailure == nil || oldest.Before(*ps.OldestFailure) {
		ps.OldestFailure = &oldest
	}
	if ps.NewestFailure == nil || newest.After(*ps.NewestFailure) {
		ps.NewestFailure = &newest
	}
}

// sum computes the total from the partitions.
func (ts *TopicStats) sum() {
	t := PartitionStats{}
	for _, p := range ts.Partitions {
		t.Start += p.Start
		t.End += p.End
		t.Records += p.Records
		t.ReplayMarkers += p.ReplayMarkers
		t.Replayed += p.Replayed
		t.Waiting += p.Waiting
		for k, v := range p.WaitingByClass {
			if t.WaitingByClass == nil {
				t.WaitingByClass = map[string]int64{}
			}
			t.WaitingByClass[k] += v
		}
		if p.OldestFailure != nil {
			t.failure(*p.OldestFailure, *p.NewestFailure)
		}
		for k, v := range p.ByClass {
			if t.ByClass == nil {
				t.ByClass, t.ByAttempt = map[string]int64{}, map[int]int64{}
			}
			t.ByClass[k] += v
		}
		for k, v := range p.ByAttempt {
			t.ByAttempt[k] += v
		}
	}
	ts.Total = t
}

// OffsetReader reads a consumer group's committed offsets without joining
// the group. Kafka implements it.
type OffsetReader interface {
	// Committed returns the committed offset of each partition, -1 for none.
	Committed(ctx context.Context, group, topic string, partitions []int32) (map[int32]int64, error)
}

// FetchLag reads group's committed offsets of the topic and fills in the lag.
func (ts *TopicStats) FetchLag(ctx context.Context, o OffsetReader, group string) error {
	ids := make([]int32, len(ts.Partitions))
	for i, p := range ts.Partitions {
		ids[i] = *p.Partition
	}
	committed, err := o.Committed(ctx, group, ts.Topic, ids)
	if err != nil {
		return err
	}
	ts.SetLag(group, committed)
	return nil
}
