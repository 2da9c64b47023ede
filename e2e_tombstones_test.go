package redrive_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// produceAroundATombstone writes to one partition of topic n JSON records,
// a tombstone (a null value, as a compacted or CDC topic has after a
// delete) and n more, all with one key. It returns the JSON records and
// the tombstone's origin.
func produceAroundATombstone(t *testing.T, brokers []string, topic string, n int) (produced, origin) {
	t.Helper()
	p, err := sarama.NewSyncProducer(brokers, testSaramaConfig())
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for i := range 2*n + 1 {
		m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("user-7")}
		if i != n {
			m.Value = sarama.StringEncoder(fmt.Sprintf(`{"id":%d,"category":"Y"}`, i))
		}
		msgs = append(msgs, m)
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("producing: %v", err)
	}
	want := produced{}
	for i, m := range msgs {
		if i != n {
			want[origin{topic, m.Partition, m.Offset}] = testRecord{Key: "user-7", Value: []byte(fmt.Sprintf(`{"id":%d,"category":"Y"}`, i))}
		}
	}
	return want, origin{topic, msgs[n].Partition, msgs[n].Offset}
}

// Invariant 1 with a tombstone in the input: goka commits a null value on
// its own as it reads it, which committed past the records before it that
// were still waiting for their S3 batch, and a crash then lost them. Here
// the batches stay open (nothing is uploaded until the stop): the
// tombstone is parked with its class, the group commits nothing while
// the records before it are not durable, and the stop writes them all.
func TestE2E_Invariant1_ATombstoneCommitsNothingAheadOfItsPartition(t *testing.T) {
	e := newEnv(t, 1)
	e.createTopics(t, 1)
	want, tomb := produceAroundATombstone(t, e.brokers, e.topic(), 20)
	p := e.start(t, e.runArgs("", "--batch-max-age=10m", "--batch-max-records=100000"))

	wait.For(t, time.Minute, "the tombstone in parking", func() bool {
		return e.check(t, nil).parkedClass[tomb] == pipeline.ClassTombstone
	})
	// The tombstone's own write is durable, and its commit waits for the
	// 20 records before it: over many commit intervals (100 ms) the group
	// must not move.
	for range 20 {
		if off, ok := e.committed(t, e.topic())[tomb.Partition]; ok && off > 0 {
			t.Fatalf("partition %d committed at %d while the records from offset 0 wait for their S3 batch", tomb.Partition, off)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.term(30 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.tail(30))
	}
	rep := e.check(t, want)
	if len(rep.missing) != 0 {
		t.Fatalf("%d records missing after the stop: %v", len(rep.missing), rep.missing)
	}
	if off := e.committed(t, e.topic())[tomb.Partition]; off != tomb.Offset+21 {
		t.Errorf("partition %d committed at %d after the stop, want %d (past the last record)", tomb.Partition, off, tomb.Offset+21)
	}
}

// --tombstones=skip: a tombstone is counted and committed in its turn, and
// written nowhere; every record around it reaches S3.
func TestE2E_TombstonesSkipped(t *testing.T) {
	e := newEnv(t, 1)
	e.createTopics(t, 1)
	want, tomb := produceAroundATombstone(t, e.brokers, e.topic(), 20)
	p := e.start(t, e.runArgs("", "--tombstones=skip"))
	addr := p.httpAddr()
	rep := e.waitComplete(t, want, time.Minute)
	wait.For(t, 30*time.Second, "the skipped tombstone counted", func() bool {
		v, _ := scrapeMetrics(t, addr).value("redrive_records_routed_total", "route", "skipped")
		return v == 1
	})
	if err := p.term(30 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.tail(30))
	}
	rep = e.check(t, want)
	if len(rep.parked) != 0 {
		t.Errorf("%d records parked, want none: %v", len(rep.parked), rep.parkedClass)
	}
	if off := e.committed(t, e.topic())[tomb.Partition]; off != tomb.Offset+21 {
		t.Errorf("partition %d committed at %d, want %d (past the last record)", tomb.Partition, off, tomb.Offset+21)
	}
}
