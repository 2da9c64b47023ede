package redrive_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// TestE2E_EventTimeFoldersThroughRealS3 proves event-time partitioning end
// to end, through the binary, real Kafka and the real S3 API: records whose
// "ts" field spans three hours land in the dt=/hr= folders of those hours
// (not the hour redrive ran), records without the field land in the hour of
// their Kafka timestamp, every object holds one hour only, and every key
// still names its topic-partition and an offset range holding its lines.
func TestE2E_EventTimeFoldersThroughRealS3(t *testing.T) {
	e := newEnv(t, 1)
	e.createTopics(t, 1)
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	kafkaTS := time.Date(2026, 2, 1, 23, 30, 0, 0, time.UTC) // the fallback's hour
	const n = 300
	// eventAt is record i's event time: rising over three hours, with
	// every tenth record late by up to an hour, as when a partition mixes
	// fresh and delayed events.
	eventAt := func(i int) time.Time {
		if i%50 == 49 {
			return kafkaTS // no field: dated by the Kafka timestamp
		}
		at := base.Add(time.Duration(i) * 3 * time.Hour / n)
		if i%10 == 3 && at.Sub(base) >= time.Hour {
			at = at.Add(-time.Hour)
		}
		return at
	}
	p, err := sarama.NewSyncProducer(e.brokers, testSaramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*sarama.ProducerMessage
	for i := range n {
		v := fmt.Sprintf(`{"id":%d,"category":"Y","ts":%q}`, i, eventAt(i).Format(time.RFC3339))
		switch {
		case i%50 == 49:
			v = fmt.Sprintf(`{"id":%d,"category":"Y"}`, i)
		case i%2 == 1:
			v = fmt.Sprintf(`{"id":%d,"category":"Y","ts":%d}`, i, eventAt(i).UnixMilli())
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: e.topic(), Key: sarama.StringEncoder(fmt.Sprint(i % 7)),
			Value: sarama.StringEncoder(v), Timestamp: kafkaTS})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("producing: %v", err)
	}
	p.Close()
	want := map[origin]time.Time{}
	for i, m := range msgs {
		want[origin{e.topic(), m.Partition, m.Offset}] = eventAt(i)
	}

	folders, objects, _ := runToFolders(t, e, e.runArgs("", "--partition-time=field:ts"), want)
	wantFolders := map[string]int{}
	for _, at := range want {
		wantFolders[at.Format("dt=2006-01-02/hr=15/")]++
	}
	if len(wantFolders) != 4 {
		t.Fatalf("the test's records span %d hours, want 3 event hours and the fallback's", len(wantFolders))
	}
	if fmt.Sprint(folders) != fmt.Sprint(wantFolders) {
		t.Fatalf("records per folder = %v, want %v", folders, wantFolders)
	}
	t.Logf("%d objects; records per folder %v", objects, folders)
}

// TestE2E_RecordTimeFoldersThroughTheDLQ proves the default mode, record,
// end to end: records whose Kafka timestamps span three hours land in those
// hours' folders, including the ones whose enrichment failed and that were
// retried through the DLQ, whose copies have timestamps of their own (the
// envelope's redrive-origin-time keeps the first one).
func TestE2E_RecordTimeFoldersThroughTheDLQ(t *testing.T) {
	e := newEnv(t, 1)
	_, apiURL := startAPI(t, mockapi.Config{ErrorRate: 0.4, Seed: 13})
	e.createTopics(t, 1)
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const n = 200
	p, err := sarama.NewSyncProducer(e.brokers, testSaramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*sarama.ProducerMessage
	for i := range n {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: e.topic(), Key: sarama.StringEncoder(fmt.Sprint(i % 7)),
			Value: sarama.StringEncoder(fmt.Sprintf(`{"id":%d,"category":"X"}`, i)), Timestamp: base.Add(time.Duration(i) * 3 * time.Hour / n)})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("producing: %v", err)
	}
	p.Close()
	want := map[origin]time.Time{}
	for _, m := range msgs {
		want[origin{e.topic(), m.Partition, m.Offset}] = m.Timestamp.UTC()
	}

	folders, objects, lines := runToFolders(t, e, e.runArgs(apiURL, "--enrich-retries=0"), want)
	retried := 0
	for _, l := range lines {
		if l.Meta.Attempt > 0 {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no record went through the DLQ: the test proves nothing about it")
	}
	if len(folders) != 3 {
		t.Fatalf("records per folder = %v, want three hours", folders)
	}
	t.Logf("%d objects; %d records retried through the DLQ; records per folder %v", objects, retried, folders)
}

// timedLine is what the event-time tests read of an output line.
type timedLine struct {
	ID   int           `json:"id"`
	Meta pipeline.Meta `json:"_redrive"`
}

// runToFolders runs the binary with args until every record of want is in
// S3, stops it, and checks that each record is in the dt=/hr= folder of its
// time in want and, when read from the input topic, in an object whose key
// names its topic-partition and an offset range holding it. It returns the
// records per folder, the number of objects and the lines.
func runToFolders(t *testing.T, e *env, args []string, want map[origin]time.Time) (map[string]int, int, []timedLine) {
	t.Helper()
	proc := e.start(t, args)
	type object struct {
		key   string
		lines []timedLine
	}
	var objects []object
	read := func() int {
		objects = nil
		seen := map[origin]bool{}
		err := sinks.ReadRecords(context.Background(), e.client, e.bucket, "", func(key string, x timedLine) error {
			if len(objects) == 0 || objects[len(objects)-1].key != key {
				objects = append(objects, object{key: key})
			}
			last := &objects[len(objects)-1]
			last.lines = append(last.lines, x)
			seen[origin{x.Meta.Topic, x.Meta.Partition, x.Meta.Offset}] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(seen)
	}
	wait.For(t, 3*time.Minute, "every record in S3", func() bool { return read() == len(want) })
	if err := proc.term(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	read()

	folders := map[string]int{}
	var all []timedLine
	for _, obj := range objects {
		kr, err := sinks.ParseKey(obj.key)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", obj.key, err)
		}
		folder := obj.key[:strings.LastIndexByte(obj.key, '/')+1]
		for _, l := range obj.lines {
			o := origin{l.Meta.Topic, l.Meta.Partition, l.Meta.Offset}
			at, ok := want[o]
			if !ok {
				t.Fatalf("%s holds a record that was not produced: %+v", obj.key, o)
			}
			if wantFolder := at.UTC().Format("dt=2006-01-02/hr=15/"); folder != wantFolder {
				t.Errorf("record %d (time %s, attempt %d) is in %s, want %s", l.ID, at, l.Meta.Attempt, folder, wantFolder)
			}
			// A record read from the DLQ is in an object of the DLQ
			// topic, named by DLQ offsets the line does not carry; a
			// replayed one was read at a new offset of the input topic.
			if kr.Topic == e.topic() && l.Meta.ReplayedAt == nil && (o.Partition != kr.Partition || o.Offset < kr.First || o.Offset > kr.Last) {
				t.Errorf("record %+v is in %s, whose name says %+v", o, obj.key, kr)
			}
			folders[folder]++
			all = append(all, l)
		}
	}
	return folders, len(objects), all
}
