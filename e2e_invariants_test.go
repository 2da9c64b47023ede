package redrive_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// topology is the in-process equivalent of env.runArgs.
func (e *env) topology(apiURL string) redrive.Topology {
	var t redrive.Topology
	t.Kafka.Brokers = e.brokers
	t.Pipeline = pipeline.Config{Group: e.group(), InputTopic: e.topic(), DLQTopic: e.dlq(), ParkingTopic: e.parking(),
		CommitInterval: 100 * time.Millisecond, FetchBytes: 16 << 10}
	t.Sink.MaxAge = 300 * time.Millisecond
	t.S3.Bucket = e.bucket
	t.S3.Client = e.s3cfg
	t.HTTPAddr = "off"
	if apiURL != "" {
		t.Enrich.When = `category == "X"`
		t.Enrich.Client.URL = apiURL
	}
	return t
}

// run starts a topology in-process and stops it at the end of the test.
func run(t *testing.T, topo redrive.Topology, opts ...redrive.Option) *redrive.Runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := topo.Start(ctx, opts...)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return r
}

// Invariant 3: while the API is down the breaker is open and almost no
// requests are sent, and each record cycles through the DLQ about as many
// times as the backoff needs to cover the outage (logarithmic in its
// length), not once per poll.
func TestE2E_Invariant3_AnOutageIsCheap(t *testing.T) {
	e := newEnv(t, 1)
	api, apiURL := startAPI(t, mockapi.Config{Seed: 1})
	api.SetDown(true)
	outageStart := time.Now()
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(1000, 0)) // 300 need enrichment

	topo := e.topology(apiURL)
	topo.Pipeline.Retry = dlq.Policy{Base: 200 * time.Millisecond, MaxDelay: time.Hour, MaxAttempts: 100, MaxAge: time.Hour}
	topo.Enrich.Client.BreakerFailures = 5
	topo.Enrich.Client.BreakerOpenFor = time.Second
	topo.Enrich.Client.Retries = 2
	r := run(t, topo)

	const outage = 10 * time.Second
	wait.For(t, outage, "every record needing enrichment to fail once", func() bool { return r.Stats().ToDLQ >= 300 })
	time.Sleep(time.Until(outageStart.Add(outage))) // the scenario: the API stays down this long
	api.SetDown(false)
	measured := time.Since(outageStart)
	sentDuringOutage := api.Stats().Outage

	rep := e.waitComplete(t, want, 2*time.Minute)
	if len(rep.parked) != 0 {
		t.Fatalf("%d records parked after an outage shorter than max-age", len(rep.parked))
	}
	cycles := map[origin]int{}
	most := 0
	for _, d := range readTopic(t, e.brokers, e.dlq()) {
		o := origin{d.Env.Origin.Topic, d.Env.Origin.Partition, d.Env.Origin.Offset}
		cycles[o]++
		most = max(most, cycles[o])
	}
	ideal := topo.Pipeline.Retry.CyclesFor(measured)
	// Concurrency (32) calls may be on the wire when the breaker trips;
	// then the first breaker-failures attempts, then one probe per
	// open period.
	sentBound := 32 + 5*3 + int(measured/time.Second) + 5
	t.Logf("outage %s: %d requests reached the API; %d records cycled through the DLQ, at most %d times each (ideal %d)",
		measured.Round(time.Millisecond), sentDuringOutage, len(cycles), most, ideal)
	if sentDuringOutage > int64(sentBound) {
		t.Fatalf("%d requests during the outage, want at most %d: the breaker did not hold them back", sentDuringOutage, sentBound)
	}
	if most > ideal+2 {
		t.Fatalf("a record cycled %d times through the DLQ during a %s outage; backoff allows %d (+2)", most, measured, ideal)
	}
}

// Invariant 4: DLQ records that are not due for an hour do not stop the
// main topic, and the wait room stays within its window.
func TestE2E_Invariant4_WaitingDLQRecordsDoNotBlockTheMainTopic(t *testing.T) {
	e := newEnv(t, 1)
	_, apiURL := startAPI(t, mockapi.Config{Seed: 2})
	e.createTopics(t, 1)
	later := dlq.Envelope{Attempt: 3, ErrorClass: "http_5xx", FirstFailure: time.Now(), NotBefore: time.Now().Add(time.Hour)}
	var waiting []testRecord
	// 2000 per partition: more than the window plus what a pause lets
	// through, so an unbounded wait room would show.
	for i := range 8000 {
		waiting = append(waiting, testRecord{Key: fmt.Sprint(i), Value: []byte(`{"category":"X","id":-1}`)})
	}
	produceWithEnvelope(t, e.brokers, e.dlq(), waiting, later)
	want := produce(t, e.brokers, e.topic(), sampleRecords(3000, 0))

	topo := e.topology(apiURL)
	const maxWaiting = 100
	topo.Pipeline.MaxWaiting = maxWaiting
	reg := prometheus.NewRegistry()
	r := run(t, topo, redrive.WithRegistry(reg))
	rep := e.waitComplete(t, want, 2*time.Minute)
	for o := range rep.inS3 {
		if o.Topic == e.dlq() {
			t.Fatalf("a record not due for an hour reached S3: %v", o)
		}
	}
	// What a pause lets through, per partition: two fetch responses
	// (sarama feeds one while it holds the next), each one whole batch
	// (Kafka never splits one: at most one DLQ producer batch, or a 16 KiB
	// fetch of ~250-byte records with headers), sarama's 64-message buffer
	// and goka's 10-message partition channel.
	limit := maxWaiting + 2*max(pipeline.DLQBatchRecords, 16<<10/250) + 64 + 10
	if held := maxGauge(t, reg, "redrive_partition_waiting_records"); held > float64(limit) {
		t.Fatalf("wait room held %.0f records in a partition, window %d (+ fetch overshoot = %d)", held, maxWaiting, limit)
	}
	for part, off := range e.committed(t, e.dlq()) {
		if off > 0 {
			t.Fatalf("DLQ partition %d committed to %d while its records wait", part, off)
		}
	}
	t.Logf("main topic done (%d records) with DLQ records held (at most %.0f per partition, limit %d); stats %+v",
		len(want), maxGauge(t, reg, "redrive_partition_waiting_records"), limit, r.Stats())
}

// produceWithEnvelope writes records with an envelope through redrive's own
// DLQ producer, as the pipeline would have written them.
func produceWithEnvelope(t *testing.T, brokers []string, topic string, recs []testRecord, env dlq.Envelope) {
	t.Helper()
	k := pipeline.Kafka{Brokers: brokers}
	k.SetDefaults()
	cfg, err := k.SaramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.NewProducer(brokers, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	acks := make(chan error, len(recs))
	for i, r := range recs {
		env.Origin = dlq.Origin{Topic: "upstream", Partition: int32(i % 4), Offset: int64(i)}
		p.Forward(topic, int32(i%4), []byte(r.Key), r.Value, env.Headers(), func(err error) { acks <- err })
	}
	for range recs {
		if err := <-acks; err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// maxGauge is the largest value of a gauge family across its labels.
func maxGauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	most := -1.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				most = max(most, m.GetGauge().GetValue())
			}
		}
	}
	if most < 0 {
		t.Fatalf("no gauge %s", name)
	}
	return most
}
