package redrive_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
)

// Lag and freshness from redrive itself, scraped from a `redrive run`
// process against real Kafka: once the input backlog is in S3 its lag is 0
// on every partition and the end-to-end latency histogram counts every
// record; a DLQ partition paused because its wait room is full
// (--max-waiting) keeps its unread records as lag, which grows with new
// records although the paused partition fetches nothing (the high-water
// mark is asked of the leader), and its oldest pending record ages.
func TestE2E_LagAndFreshnessMetrics(t *testing.T) {
	e := newEnv(t, 1)
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(2000, 0))
	produceNotYetDue(t, e.brokers, e.dlq(), e.topic(), 2000)
	_, apiURL := startAPI(t, mockapi.Config{Seed: 1})
	p := e.start(t, e.runArgs(apiURL, "--max-waiting=2"))
	addr := p.httpAddr()
	e.waitComplete(t, want, 2*time.Minute)

	var m metricsText
	wait.For(t, time.Minute, "the input's lag to be 0 and every record in the latency histogram", func() bool {
		m = scrapeMetrics(t, addr)
		for part := range 4 {
			if v, ok := m.value("redrive_consumer_lag_records", "topic", e.topic(), "partition", strconv.Itoa(part)); !ok || v != 0 {
				return false
			}
		}
		n, _ := m.value("redrive_end_to_end_latency_seconds_count", "topic", e.topic())
		return n >= float64(len(want))
	})
	var paused float64
	wait.For(t, time.Minute, "the paused DLQ partition to report its unread records and its oldest pending record", func() bool {
		m = scrapeMetrics(t, addr)
		var ok bool
		paused, ok = m.value("redrive_consumer_lag_records", "topic", e.dlq(), "partition", "0")
		age, _ := m.value("redrive_oldest_pending_age_seconds", "topic", e.dlq(), "partition", "0")
		return ok && paused >= 500 && age > 0
	})
	t.Logf("paused DLQ partition: lag %.0f", paused)
	produceNotYetDue(t, e.brokers, e.dlq(), e.topic(), 500)
	wait.For(t, time.Minute, "the paused DLQ partition's lag to grow with new records", func() bool {
		v, _ := scrapeMetrics(t, addr).value("redrive_consumer_lag_records", "topic", e.dlq(), "partition", "0")
		return v >= paused+500
	})
}

// produceNotYetDue writes n DLQ records to partition 0 of topic, each due
// in an hour.
func produceNotYetDue(t *testing.T, brokers []string, topic, input string, n int) {
	t.Helper()
	cfg := testSaramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	now := time.Now()
	var msgs []*sarama.ProducerMessage
	for i := range n {
		env := dlq.Envelope{Origin: dlq.Origin{Topic: input, Partition: 0, Offset: int64(1_000_000 + i)}, Attempt: 1,
			FirstFailure: now, ErrorClass: "server", Error: "503", NotBefore: now.Add(time.Hour)}
		var hs []sarama.RecordHeader
		for _, h := range env.Headers() {
			hs = append(hs, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0, Key: sarama.StringEncoder(fmt.Sprint("k", i)),
			Value: sarama.StringEncoder(fmt.Sprintf(`{"id":%d,"category":"X"}`, i)), Headers: hs})
	}
	// Small batches: a fetch returns at least one whole batch, so one
	// batch of n records would be read at once, pause or not.
	for i := 0; i < len(msgs); i += 10 {
		if err := p.SendMessages(msgs[i:min(i+10, len(msgs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// metricsText is one scrape of /metrics.
type metricsText []string

func scrapeMetrics(t *testing.T, addr string) metricsText {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// value is the sample of name whose labels include the given pairs.
func (m metricsText) value(name string, labels ...string) (float64, bool) {
	for _, l := range m {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(l, labels[i]+`="`+labels[i+1]+`"`) {
				match = false
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		return v, err == nil
	}
	return 0, false
}
