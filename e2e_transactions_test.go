package redrive_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
)

// Upstream services that write in transactions (Kafka Streams or Flink
// with exactly-once, any producer with a transactional.id) send to S3 only
// what they committed: the records of an aborted transaction never
// happened. The input holds plain records, committed transactions and
// aborted ones, interleaved on every partition; every plain and committed
// record reaches S3 or parking, no aborted one does, and the group commits
// past the transactions' markers.
func TestE2E_AbortedTransactionsNeverReachS3(t *testing.T) {
	e := newEnv(t, 1)
	e.createTopics(t, 1)
	want, aborted := produceInTransactions(t, e.brokers, e.topic())

	p := e.start(t, e.runArgs(""))
	rep := e.waitComplete(t, want, 2*time.Minute)
	if err := p.term(30 * time.Second); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.tail(30))
	}
	rep = e.check(t, want)
	for o := range aborted {
		if rep.inS3[o] > 0 || rep.parked[o] > 0 {
			t.Errorf("record %v of an aborted transaction was written (S3 %d, parked %d)", o, rep.inS3[o], rep.parked[o])
		}
	}
	if n := len(rep.inS3) + len(rep.parked); n != len(want) {
		t.Errorf("%d records written, want the %d plain and committed ones", n, len(want))
	}
	// The group's position is past the last record of each partition, so
	// nothing is read again after a restart.
	committed := e.committed(t, e.topic())
	last := map[int32]int64{}
	for o := range want {
		last[o.Partition] = max(last[o.Partition], o.Offset)
	}
	for part, off := range last {
		if committed[part] <= off {
			t.Errorf("partition %d: committed %d, want past the last record at %d", part, committed[part], off)
		}
	}
}

// produceInTransactions writes, to every partition of topic: plain records,
// a committed transaction, an aborted one, and another committed one
// followed by plain records. It returns the records that must reach the
// output, and those of the aborted transaction.
func produceInTransactions(t *testing.T, brokers []string, topic string) (want, aborted produced) {
	t.Helper()
	cfg := testSaramaConfig()
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = "redrive-test-" + topic
	cfg.Net.MaxOpenRequests = 1
	tp, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	defer tp.Close()
	plain, err := sarama.NewSyncProducer(brokers, testSaramaConfig())
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer plain.Close()

	want, aborted = produced{}, produced{}
	n := 0
	send := func(p sarama.SyncProducer, kind string, into produced) {
		t.Helper()
		var msgs []*sarama.ProducerMessage
		for i := range 40 {
			key := fmt.Sprintf("key-%d", i)
			value := fmt.Sprintf(`{"id":%d,"category":"Y","kind":%q}`, n, kind)
			n++
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value)})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("producing %s records: %v", kind, err)
		}
		for _, m := range msgs {
			into[origin{topic, m.Partition, m.Offset}] = testRecord{Key: string(m.Key.(sarama.StringEncoder)), Value: []byte(m.Value.(sarama.StringEncoder))}
		}
	}
	inTxn := func(kind string, into produced, end func() error) {
		t.Helper()
		if err := tp.BeginTxn(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		send(tp, kind, into)
		if err := end(); err != nil {
			t.Fatalf("ending the %s transaction: %v", kind, err)
		}
	}
	send(plain, "plain", want)
	inTxn("committed", want, tp.CommitTxn)
	inTxn("aborted", aborted, tp.AbortTxn)
	inTxn("committed", want, tp.CommitTxn)
	send(plain, "plain", want)
	return want, aborted
}

// A lookup table produced in transactions (a Kafka Streams or ksqlDB table
// with exactly-once) ends each partition with a commit marker, an offset
// that no consumer is ever handed. The table still catches up: /readyz
// says 200, and the records of the users it holds are enriched from it.
func TestE2E_LookupTableFromATransactionalTopicCatchesUp(t *testing.T) {
	e := newEnv(t, 1)
	api, apiURL := startAPI(t, mockapi.Config{Seed: 16})
	api.SetDown(true) // only the table can enrich
	e.createTopics(t, 1)
	e.createProfiles(t)
	cfg := testSaramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = "redrive-test-" + e.profiles()
	cfg.Net.MaxOpenRequests = 1
	tp, err := sarama.NewSyncProducer(e.brokers, cfg)
	if err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	defer tp.Close()
	if err := tp.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	var msgs []*sarama.ProducerMessage
	for u := range lookupKnown {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: e.profiles(), Partition: int32(u % 3),
			Key: sarama.StringEncoder(fmt.Sprintf("u%d", u)), Value: sarama.StringEncoder(profileValue(u, 1))})
	}
	if err := tp.SendMessages(msgs); err != nil {
		t.Fatalf("producing profiles: %v", err)
	}
	if err := tp.CommitTxn(); err != nil {
		t.Fatalf("committing profiles: %v", err)
	}

	produce(t, e.brokers, e.topic(), lookupRecords(0, 400))
	p := e.start(t, e.runArgs(apiURL, "--lookup-topic="+e.profiles(), "--lookup-key=user_id"))
	addr := p.httpAddr()
	wait.For(t, 60*time.Second, "/readyz to say 200", func() bool { return status(addr, "/readyz") == http.StatusOK })
	wait.For(t, 60*time.Second, "the records of the users the table holds in S3", func() bool {
		got := e.lookupOutput(t)
		for id := range 400 {
			if id%lookupUsers < lookupKnown && got[id].Meta.Source != "table" {
				return false
			}
		}
		return true
	})
}
