package redrive_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// The tests of "redrive stays up" (invariant 8): faults of Kafka never end
// a redrive process, and a record near the input topic's size limit always
// has a place to go (invariant 9).

// status returns the HTTP status of GET addr/path, or 0 when nothing answers.
func status(addr, path string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// mustRun fails the test when a process exited on its own.
func mustRun(t *testing.T, what string, ps ...*proc) {
	t.Helper()
	for i, p := range ps {
		if !p.running() {
			t.Fatalf("redrive process %d exited on its own %s:\n%s", i, what, p.tail(30))
		}
	}
}

// The only broker of a one-node cluster is stopped for 60 s mid-stream and
// started again: the process stays up, /readyz says 503 while the session
// is lost and /healthz stays 200, and consumption resumes from the
// committed offsets; every record ends in S3 or parking.
func TestE2E_Invariant8_OnlyBrokerStoppedForSixtySeconds(t *testing.T) {
	e := newBrokerStopEnv(t)
	_, apiURL := startAPI(t, mockapi.Config{Latency: 2 * time.Millisecond, Seed: 21})
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(8000, 0))
	p := e.start(t, e.runArgs(apiURL, "--max-pending=400", "--batch-max-records=200"))
	addr := p.httpAddr()
	e.waitFraction(t, want, 0.2, 2*time.Minute)
	e.stopOnlyBroker(t, p, addr, 60*time.Second)
	r := e.waitComplete(t, want, 4*time.Minute)
	wait.For(t, time.Minute, "/readyz to say 200 again", func() bool { return status(addr, "/readyz") == http.StatusOK })
	mustRun(t, "after the broker came back", p)
	if !strings.Contains(p.tail(2000), `"msg":"kafka session rejoined"`) {
		t.Errorf("no 'kafka session rejoined' line in the log")
	}
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.tail(20))
	}
	t.Logf("broker down 60s: all %d records in S3 or parking (%d duplicates)", len(want), r.duplicates)
}

// stopOnlyBroker kills the only broker of e's cluster for d and starts it
// again. Meanwhile p must keep running, say 503 on /readyz and 200 on
// /healthz: the supervisors wait for the broker.
func (e *env) stopOnlyBroker(t *testing.T, p *proc, addr string, d time.Duration) {
	t.Helper()
	if err := e.kafka.StopNode(1, "KILL"); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	wait.For(t, time.Minute, "/readyz to say 503 while the broker is down", func() bool { return status(addr, "/readyz") == http.StatusServiceUnavailable })
	for time.Since(stopped) < d {
		mustRun(t, "while its only broker was down", p)
		if code := status(addr, "/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz = %d while the supervisors wait for the broker", code)
		}
		time.Sleep(time.Second)
	}
	if err := e.kafka.StartNode(1); err != nil {
		t.Fatal(err)
	}
}

// killLoopTimeouts make a killed member leave the group soon (its session
// times out after 6 s, the broker's minimum) and bound each rebalance to
// 15 s, so that five kills settle within the test's time; the joins still
// wait on dead members as they would in production.
var killLoopTimeouts = []string{"--session-timeout=6s", "--heartbeat-interval=2s", "--rebalance-timeout=15s", "--shutdown-grace=12s"}

// killLoop kills victim's process with SIGKILL and starts it again, times
// times within about span, while the other members must keep running.
func killLoop(t *testing.T, e *env, args []string, victim *proc, times int, span time.Duration, others ...*proc) *proc {
	t.Helper()
	for i := 0; i < times; i++ {
		victim.kill()
		victim = e.start(t, args)
		time.Sleep(span / time.Duration(times))
		mustRun(t, fmt.Sprintf("during kill %d of another member", i+1), others...)
	}
	return victim
}

// A 3-member group on a 3-node cluster (replication 3): one member is
// killed with SIGKILL and restarted 5 times within 20 s. The joins this
// causes may wait up to the rebalance timeout; the other members keep
// running throughout, and no record is lost.
func TestE2E_Invariant8_KillLoopInAThreeMemberGroup(t *testing.T) {
	e := newEnv(t, 3)
	if e.kafka == nil {
		t.Skip("needs a real three-node Kafka cluster (reported above)")
	}
	_, apiURL := startAPI(t, mockapi.Config{Latency: 2 * time.Millisecond, ErrorRate: 0.05, Seed: 23})
	e.createTopics(t, 3)
	want := produce(t, e.brokers, e.topic(), sampleRecords(15000, 0))
	args := e.runArgs(apiURL, append([]string{"--replication-factor=3", "--max-pending=300", "--batch-max-records=300"}, killLoopTimeouts...)...)
	a, b, c := e.start(t, args), e.start(t, args), e.start(t, args)
	e.waitFraction(t, want, 0.1, 2*time.Minute)
	c = killLoop(t, e, args, c, 5, 20*time.Second, a, b)
	r := e.waitComplete(t, want, 4*time.Minute)
	mustRun(t, "after the kill loop", a, b, c)
	for i, p := range []*proc{a, b, c} {
		if err := p.term(40 * time.Second); err != nil {
			t.Fatalf("member %d exit after SIGTERM: %v\n%s", i, err, p.tail(20))
		}
	}
	t.Logf("5 kills of one member in 20s: the others stayed up; all %d records in S3 or parking (%d duplicates)", len(want), r.duplicates)
}

// The same kill loop on the embedded broker (what make demo runs), with 2
// members.
func TestE2E_Invariant8_KillLoopOnTheEmbeddedBroker(t *testing.T) {
	e := embeddedEnv(t)
	_, apiURL := startAPI(t, mockapi.Config{Latency: 2 * time.Millisecond, Seed: 25})
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(8000, 0))
	args := e.runArgs(apiURL, append([]string{"--max-pending=300", "--batch-max-records=300"}, killLoopTimeouts...)...)
	a, b := e.start(t, args), e.start(t, args)
	e.waitFraction(t, want, 0.1, 2*time.Minute)
	b = killLoop(t, e, args, b, 5, 20*time.Second, a)
	r := e.waitComplete(t, want, 4*time.Minute)
	mustRun(t, "after the kill loop", a, b)
	for i, p := range []*proc{a, b} {
		if err := p.term(40 * time.Second); err != nil {
			t.Fatalf("member %d exit after SIGTERM: %v\n%s", i, err, p.tail(20))
		}
	}
	t.Logf("embedded broker, 5 kills of one member in 20s: the other stayed up; all %d records in S3 or parking (%d duplicates)", len(want), r.duplicates)
}

// nearLimitValue is a JSON object of exactly size bytes whose padding does
// not compress (so that snappy cannot shrink it under a lowered limit).
func nearLimitValue(t *testing.T, size int, fields string) []byte {
	t.Helper()
	head := `{` + fields + `,"pad":"`
	n := size - len(head) - len(`"}`)
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	pad := base64.RawURLEncoding.EncodeToString(raw)[:n]
	return []byte(head + pad + `"}`)
}

// topicLimit reads a topic's max.message.bytes.
func topicLimit(t *testing.T, admin sarama.ClusterAdmin, topic string) int {
	t.Helper()
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"max.message.bytes"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Name == "max.message.bytes" {
			n, err := strconv.Atoi(en.Value)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no max.message.bytes for %s", topic)
	return 0
}

// Records of (input topic's max.message.bytes − 200) bytes: one the API
// rejects ends in parking whole; one that waits in the DLQ during an API
// outage ends in S3 once the API is back; one that the parking topic can no
// longer take whole (its limit lowered after start-up) ends in parking as a
// reduced envelope with size and digest. The other records flow throughout
// and the process never exits on its own (invariants 8 and 9).
func TestE2E_Invariant9_RecordsNearTheSizeLimitAlwaysHaveAPlace(t *testing.T) {
	e := newEnv(t, 1)
	api, apiURL := startAPI(t, mockapi.Config{RejectContaining: `"mock":"reject"`, Seed: 27})
	e.createTopics(t, 1)
	admin := newAdmin(t, e.brokers)
	defer admin.Close()
	size := topicLimit(t, admin, e.topic()) - 200
	rejected := nearLimitValue(t, size, `"id":900001,"category":"X","mock":"reject"`)
	waiting := nearLimitValue(t, size, `"id":900002,"category":"X"`)
	lastResort := append([]byte("not json "), nearLimitValue(t, size-9, `"id":900003`)...)

	want := produce(t, e.brokers, e.topic(), sampleRecords(1000, 0))
	p := e.start(t, e.runArgs(apiURL, "--max-record-bytes=2MiB"))
	find := func(topic string, value []byte) (topicRecord, bool) {
		for _, r := range readTopic(t, e.brokers, topic) {
			if bytes.Equal(r.Value, value) || (r.Env.Reduced != nil && bytes.HasPrefix(value, r.Value) && r.Env.Reduced.Size == len(value)) {
				return r, true
			}
		}
		return topicRecord{}, false
	}
	add := func(key string, value []byte) {
		for o, r := range produce(t, e.brokers, e.topic(), []testRecord{{Key: key, Value: value}}) {
			want[o] = r
		}
	}

	add("rejected", rejected)
	wait.For(t, 2*time.Minute, "the rejected record in parking, whole", func() bool { _, ok := find(e.parking(), rejected); return ok })

	api.SetDown(true)
	add("waiting", waiting)
	wait.For(t, 2*time.Minute, "the record to wait in the DLQ during the outage", func() bool { _, ok := find(e.dlq(), waiting); return ok })

	lowered := "200000"
	if err := admin.AlterConfig(sarama.TopicResource, e.parking(), map[string]*string{"max.message.bytes": &lowered}, false); err != nil {
		t.Fatal(err)
	}
	add("last-resort", lastResort)
	var reduced topicRecord
	wait.For(t, 2*time.Minute, "the last-resort record in parking, reduced", func() bool {
		var ok bool
		reduced, ok = find(e.parking(), lastResort)
		return ok
	})
	mustRun(t, "with a record the parking topic cannot take whole", p)
	for o, r := range produce(t, e.brokers, e.topic(), sampleRecords(500, 0)) {
		want[o] = r
	}
	api.SetDown(false)
	r := e.waitComplete(t, want, 3*time.Minute)
	mustRun(t, "after the outage", p)
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.tail(20))
	}

	whole, _ := find(e.parking(), rejected)
	if whole.Env.Reduced != nil || whole.Env.ErrorClass != "http_4xx" {
		t.Errorf("rejected record parked as %q (reduced %v), want whole with class http_4xx", whole.Env.ErrorClass, whole.Env.Reduced)
	}
	sum := sha256.Sum256(lastResort)
	if reduced.Env.ErrorClass != dlq.ClassOversize || reduced.Env.Reduced.SHA256 != hex.EncodeToString(sum[:]) ||
		reduced.Key != "last-resort" || len(reduced.Value) >= len(lastResort) {
		t.Errorf("reduced envelope: class %q, %+v, key %q, %d of %d bytes kept", reduced.Env.ErrorClass, reduced.Env.Reduced, reduced.Key, len(reduced.Value), len(lastResort))
	}
	inS3 := false
	for o, rec := range want {
		if bytes.Equal(rec.Value, waiting) && r.inS3[o] > 0 {
			inS3 = true
		}
	}
	if !inS3 {
		t.Errorf("the record that waited in the DLQ is not in S3")
	}
	t.Logf("near-limit records of %d bytes: rejected one parked whole, waiting one in S3 after the outage, last-resort one parked reduced to %d bytes (%s); %d records in all",
		size, len(reduced.Value), reduced.Env.Error, len(want))
}

// Start-up refuses a DLQ topic that could not hold a record the input topic
// accepts, naming the topic and the setting to change.
func TestE2E_Invariant9_StartRefusesADLQSmallerThanTheInput(t *testing.T) {
	e := newEnv(t, 1)
	small := "500000"
	e.createTopicsWith(t, 1, map[string]map[string]*string{e.dlq(): {"max.message.bytes": &small}})
	_, err := e.topology("").Start(context.Background())
	for _, want := range []string{"dlq-topic", e.dlq(), "max.message.bytes=500000", "max.message.bytes=" + strconv.Itoa(pipeline.DefaultMaxMessageBytes+pipeline.HeaderRoom)} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("start-up error %v; want it to say %q", err, want)
		}
	}
}

// SIGTERM while every broker is down: the process exits within
// --shutdown-grace (with code 3: what was not committed is read again), and
// a later run finishes the work without losing a record.
func TestE2E_Invariant8_SIGTERMWithEveryBrokerDown(t *testing.T) {
	e := newBrokerStopEnv(t)
	_, apiURL := startAPI(t, mockapi.Config{Latency: 20 * time.Millisecond, Seed: 29})
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(5000, 0))
	const grace = 10 * time.Second
	args := e.runArgs(apiURL, "--shutdown-grace="+grace.String(), "--enrich-concurrency=4")
	p := e.start(t, args)
	addr := p.httpAddr()
	e.waitFraction(t, want, 0.1, 2*time.Minute)
	if err := e.kafka.StopNode(1, "KILL"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, time.Minute, "/readyz to say 503", func() bool { return status(addr, "/readyz") == http.StatusServiceUnavailable })
	start := time.Now()
	// The deadline only stops a hung test; the process must honour its
	// own grace period, with a few seconds for the runtime to exit.
	err := p.term(grace + 15*time.Second)
	took := time.Since(start)
	if took > grace+5*time.Second {
		t.Fatalf("exited %s after SIGTERM, grace %s", took.Round(time.Millisecond), grace)
	}
	t.Logf("exited %s after SIGTERM with every broker down: %v", took.Round(time.Millisecond), err)
	if err := e.kafka.StartNode(1); err != nil {
		t.Fatal(err)
	}
	p = e.start(t, args)
	addr = p.httpAddr()
	r := e.waitComplete(t, want, 3*time.Minute)
	wait.For(t, time.Minute, "the second process to be ready", func() bool { return status(addr, "/readyz") == http.StatusOK })
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("second exit: %v", err)
	}
	t.Logf("after the restart all %d records in S3 or parking (%d duplicates)", len(want), r.duplicates)
}

// A pod that starts while Kafka and S3 are down (a cluster coming back
// from maintenance) waits for them, alive and not ready, instead of exiting
// into a crash loop; once they are back it starts and loses nothing.
func TestE2E_Invariant8_StartsWhileKafkaAndS3AreDown(t *testing.T) {
	e := newPrivateEnv(t, 1)
	if e.kafka == nil || e.store == nil {
		t.Skip("needs the real Kafka and S3 processes to stop and start (reported above)")
	}
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(2000, 0))
	if err := e.kafka.StopNode(1, "KILL"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Stop(); err != nil {
		t.Fatal(err)
	}
	s3Down := true
	defer func() {
		if s3Down {
			e.store.Start() //nolint:errcheck // keep the shared server up for other tests
		}
	}()
	p := e.start(t, e.runArgs(""))
	addr := p.httpAddr()
	wait.For(t, time.Minute, "the wait for Kafka to be logged", func() bool { return strings.Contains(p.tail(50), "waiting for Kafka at start-up") })
	for range 5 {
		mustRun(t, "while Kafka was down at start-up", p)
		if r, h := status(addr, "/readyz"), status(addr, "/healthz"); r != http.StatusServiceUnavailable || h != http.StatusOK {
			t.Fatalf("/readyz %d, /healthz %d while waiting for Kafka; want 503 and 200", r, h)
		}
		time.Sleep(time.Second)
	}
	if err := e.kafka.StartNode(1); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 2*time.Minute, "the wait for S3 to be logged", func() bool { return strings.Contains(p.tail(50), "waiting for S3 at start-up") })
	mustRun(t, "while S3 was down at start-up", p)
	if err := e.store.Start(); err != nil {
		t.Fatal(err)
	}
	s3Down = false
	r := e.waitComplete(t, want, 3*time.Minute)
	wait.For(t, time.Minute, "/readyz to say 200", func() bool { return status(addr, "/readyz") == http.StatusOK })
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.tail(20))
	}
	t.Logf("started with Kafka and S3 down, waited for both: all %d records in S3 or parking (%d duplicates)", len(want), r.duplicates)
}
