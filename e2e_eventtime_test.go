package redrive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/internal/wait"
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

	proc := e.start(t, e.runArgs("", "--partition-time=field:ts"))
	type line struct {
		ID   int `json:"id"`
		Meta struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		} `json:"_redrive"`
	}
	type object struct {
		key   string
		lines []line
	}
	var objects []object
	read := func() int {
		objects = nil
		seen := map[origin]bool{}
		err := sinks.ReadBatches(context.Background(), e.client, e.bucket, "", func(o sinks.Object) error {
			ls, err := o.Lines()
			if err != nil {
				return err
			}
			obj := object{key: o.Key}
			for _, l := range ls {
				var x line
				if err := json.Unmarshal(l, &x); err != nil {
					return fmt.Errorf("%s: %w", o.Key, err)
				}
				obj.lines = append(obj.lines, x)
				seen[origin{x.Meta.Topic, x.Meta.Partition, x.Meta.Offset}] = true
			}
			objects = append(objects, obj)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(seen)
	}
	wait.For(t, 2*time.Minute, "every record in S3", func() bool { return read() == n })
	if err := proc.term(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	read()

	folders := map[string]int{}
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
				t.Errorf("record %d (time %s) is in %s, want %s", l.ID, at, folder, wantFolder)
			}
			if o.Topic != kr.Topic || o.Partition != kr.Partition || o.Offset < kr.First || o.Offset > kr.Last {
				t.Errorf("record %+v is in %s, whose name says %+v", o, obj.key, kr)
			}
			folders[folder]++
		}
	}
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
	t.Logf("%d objects; records per folder %v", len(objects), folders)
}
