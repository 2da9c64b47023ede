package inspect

import (
	"context"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

// What waits is told apart from what is retained: on the DLQ, the records
// at or after the group's committed offset, by class; after an outage has
// drained, a DLQ retains records and has none waiting.
func TestDLQStatsTellWaitingFromRetained(t *testing.T) {
	dlqTopic := Topic{Name: "in.dlq", Role: RoleDLQ}
	f := newFakeKafka()
	f.create(dlqTopic.Name, 2)
	o := dlq.Origin{Topic: "in"}
	for i, class := range []string{"http_5xx", "breaker_open", "breaker_open", "timeout"} {
		f.add(dlqTopic.Name, 0, parked("a", class, 1, t0.Add(time.Duration(i)*time.Minute), o))
	}
	f.add(dlqTopic.Name, 1, parked("b", "http_5xx", 1, t0, o))
	ts, err := Scanner{Reader: f}.StatsSince(context.Background(), dlqTopic, map[int32]int64{0: 2, 1: 1})
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := ts.Partitions[0], ts.Partitions[1]
	if p0.Records != 4 || p0.Waiting != 2 || !mapsEqual(p0.WaitingByClass, map[string]int64{"breaker_open": 1, "timeout": 1}) {
		t.Errorf("partition 0: retained %d, waiting %d %v; want 4, 2 {breaker_open:1 timeout:1}", p0.Records, p0.Waiting, p0.WaitingByClass)
	}
	if p1.Records != 1 || p1.Waiting != 0 {
		t.Errorf("partition 1 (drained): retained %d, waiting %d; want 1, 0", p1.Records, p1.Waiting)
	}
	if ts.Total.Records != 5 || ts.Total.Waiting != 2 || !mapsEqual(ts.Total.WaitingByClass, p0.WaitingByClass) {
		t.Errorf("total: retained %d, waiting %d %v", ts.Total.Records, ts.Total.Waiting, ts.Total.WaitingByClass)
	}

	// No committed offset: everything retained waits.
	all, err := Scanner{Reader: f}.StatsSince(context.Background(), dlqTopic, map[int32]int64{0: -1})
	if err != nil || all.Total.Waiting != 5 {
		t.Errorf("without commits: waiting %d (%v), want 5", all.Total.Waiting, err)
	}
}

// On the parking topic what waits is what was not replayed.
func TestParkingStatsWaitingIsNotReplayed(t *testing.T) {
	ts, err := Scanner{Reader: fillParking(t)}.Stats(context.Background(), parkingTopic)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Partitions[0].Waiting != 3 || ts.Partitions[2].Waiting != 3 || ts.Total.Waiting != 6 {
		t.Errorf("parking waiting %d, %d, total %d; want 3, 3, 6", ts.Partitions[0].Waiting, ts.Partitions[2].Waiting, ts.Total.Waiting)
	}
}

// A group with no committed offset on a topic is flagged (a mistyped
// --group reports the whole topic as lag), and the input topic's waiting
// records are its lag.
func TestSetLagFlagsAGroupWithoutOffsets(t *testing.T) {
	p0, p1 := int32(0), int32(1)
	ts := TopicStats{Role: RoleInput, Partitions: []PartitionStats{{Partition: &p0, End: 10}, {Partition: &p1, Start: 2, End: 5}}}
	ts.SetLag("typo", map[int32]int64{0: -1})
	if !ts.NoCommittedOffsets || ts.Total.Waiting != 13 || ts.Partitions[1].Waiting != 3 {
		t.Errorf("no commits: flagged %v, waiting %d / %d", ts.NoCommittedOffsets, ts.Total.Waiting, ts.Partitions[1].Waiting)
	}
	ts.SetLag("g", map[int32]int64{0: 8})
	if ts.NoCommittedOffsets || ts.Total.Waiting != 5 {
		t.Errorf("with a commit: flagged %v, waiting %d", ts.NoCommittedOffsets, ts.Total.Waiting)
	}
}
