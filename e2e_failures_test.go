package redrive_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// coreRecords are the workload: n records, 30% needing
// enrichment, one in 500 not JSON, and a few over --max-record-bytes.
func coreRecords(n int) (recs []testRecord, malformed, oversize int) {
	recs = sampleRecords(n, 500)
	for i := range recs {
		if !bytes.HasPrefix(recs[i].Value, []byte("{")) {
			malformed++
		}
	}
	for i := 0; i < 5; i++ {
		big := fmt.Sprintf(`{"id":%d,"category":"Y","blob":%q}`, n+i, strings.Repeat("z", 70<<10))
		recs = append(recs, testRecord{Key: "big", Value: []byte(big)})
		oversize++
	}
	return recs, malformed, oversize
}

// checkParkedCauses: every parked record has a cause that matches what the
// test made, and every malformed and oversize record was parked as such
// (invariant 7: bad input is contained, with its cause).
func checkParkedCauses(t *testing.T, r report, want produced, malformed, oversize int) {
	t.Helper()
	byClass := map[string]int{}
	for o, class := range r.parkedClass {
		byClass[class]++
		v := want[o].Value
		switch class {
		case pipeline.ClassMalformed:
			if bytes.HasPrefix(v, []byte("{")) {
				t.Errorf("record %v parked as malformed: %.60s", o, v)
			}
		case pipeline.ClassOversize:
			if len(v) <= 64<<10 {
				t.Errorf("record %v of %d bytes parked as oversize", o, len(v))
			}
		case "http_4xx", "bad_response", dlq.ClassExhausted:
		default:
			t.Errorf("record %v parked with unexpected class %q", o, class)
		}
	}
	if byClass[pipeline.ClassMalformed] != malformed || byClass[pipeline.ClassOversize] != oversize {
		t.Errorf("parked %d malformed and %d oversize, produced %d and %d", byClass[pipeline.ClassMalformed], byClass[pipeline.ClassOversize], malformed, oversize)
	}
	t.Logf("parked by class: %v", byClass)
}

// The end-to-end run: 20k records, 30% needing enrichment, 20%
// transient API errors and an outage window, malformed and oversize input,
// and the process killed with SIGKILL three times mid-stream. Every input record
// ends up in S3 or parking (invariants 1, 2 and 7); duplicates come only from
// the in-flight window of each kill and are recognisable by origin.
func TestE2E_Invariants1_2_7_KillNineThreeTimesUnderAFlakyAPI(t *testing.T) {
	e := newEnv(t, 1)
	api, apiURL := startAPI(t, mockapi.Config{ErrorRate: 0.2, PermanentRate: 0.002, GarbageRate: 0.002, Seed: 11,
		Outages: []mockapi.Window{{Start: 4 * time.Second, Duration: 4 * time.Second}}})
	e.createTopics(t, 1)
	recs, malformed, oversize := coreRecords(20000)
	want := produce(t, e.brokers, e.topic(), recs)
	const maxPending = 500
	args := e.runArgs(apiURL, fmt.Sprintf("--max-pending=%d", maxPending), "--batch-max-records=500")

	// Three kills at random points of the stream (seed logged to replay a
	// failure): each a little further along, so that the run ends.
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill points seed %d", seed)
	kills := 0
	for _, span := range [][2]float64{{0.05, 0.3}, {0.35, 0.6}, {0.65, 0.9}} {
		frac := span[0] + rng.Float64()*(span[1]-span[0])
		p := e.start(t, args)
		e.waitFraction(t, want, frac, 2*time.Minute)
		p.kill()
		kills++
		t.Logf("killed with SIGKILL at %.0f%% in S3", frac*100)
	}
	p := e.start(t, args)
	r := e.waitComplete(t, want, 3*time.Minute)
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.tail(20))
	}
	checkParkedCauses(t, r, want, malformed, oversize)
	// Each kill re-reads at most what was in flight: per partition the
	// pending window, plus what a pause lets through on each of the two
	// topics (one 16 KiB fetch of ~60-byte records and sarama's 64-slot
	// buffer), plus one 100 ms commit interval of work.
	const overshoot = 16<<10/60 + 64
	bound := kills * (4*(maxPending+2*overshoot) + 500)
	t.Logf("%d records, %d in S3 (%d duplicate copies after %d kills, bound %d), %d parked; API served %+v",
		len(want), len(r.inS3), r.duplicates, kills, bound, len(r.parked), api.Stats())
	if r.duplicates > bound {
		t.Fatalf("%d duplicates after %d kills, more than the in-flight window allows (%d)", r.duplicates, kills, bound)
	}
	checkEnrichment(t, e, want)
}

// checkEnrichment: records needing enrichment carry the API's real answer,
// the others none.
func checkEnrichment(t *testing.T, e *env, want produced) {
	t.Helper()
	_, lines := readS3(t, e.client, e.bucket)
	for _, l := range lines {
		o := origin{l.Meta.Topic, l.Meta.Partition, l.Meta.Offset}
		rec := want[o]
		wantAnswer := mockapi.Answer("/enrich", rec.Value)
		switch l.Category {
		case "X":
			if !l.Meta.Enriched || !bytes.Equal(l.Enriched, wantAnswer) {
				t.Fatalf("record %v: enrichment %s, want %s", o, l.Enriched, wantAnswer)
			}
		default:
			if l.Meta.Enriched || l.Enriched != nil {
				t.Fatalf("record %v of category %q was enriched", o, l.Category)
			}
		}
	}
}

// Invariant 6 and the graceful stop: SIGTERM mid-stream (records in
// enrichment, batches open) exits cleanly within the grace period, hands
// what is held to the DLQ and commits what is durable, so that a restart
// finishes the work with no duplicate at all.
func TestE2E_Invariant6_SIGTERMMidStreamLosesNothingAndDuplicatesNothing(t *testing.T) {
	e := newEnv(t, 1)
	// A slow API keeps records in enrichment when SIGTERM comes.
	_, apiURL := startAPI(t, mockapi.Config{Latency: 100 * time.Millisecond, Seed: 3})
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(6000, 0))
	args := e.runArgs(apiURL, "--batch-max-age=5s", "--enrich-concurrency=8")
	p := e.start(t, args)
	e.waitFraction(t, want, 0.2, 2*time.Minute)
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.tail(20))
	}
	if !strings.Contains(p.tail(5), "stopped cleanly") {
		t.Fatalf("no clean stop in the log:\n%s", p.tail(10))
	}
	// What is durable is committed: the group is at most the records of
	// the last in-flight window behind the S3 content.
	mid := e.check(t, want)
	if len(mid.inS3) == len(want) {
		t.Fatalf("SIGTERM came after everything was done; the test proves nothing")
	}
	handedOff := 0
	for _, d := range readTopic(t, e.brokers, e.dlq()) {
		if d.Env.ErrorClass == pipeline.ClassHandoff {
			handedOff++
		}
	}
	if handedOff == 0 {
		t.Fatalf("no record was in flight at SIGTERM (none handed off to the DLQ)")
	}
	committed := e.committed(t, e.topic())
	for o := range mid.inS3 {
		if o.Topic == e.topic() && o.Offset >= committed[o.Partition] {
			t.Fatalf("record %v is in S3 but the group committed only up to %d: a restart would re-read it", o, committed[o.Partition])
		}
	}
	p = e.start(t, args)
	r := e.waitComplete(t, want, 2*time.Minute)
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("second exit: %v", err)
	}
	if r.duplicates != 0 {
		t.Fatalf("%d duplicates after a graceful stop, want 0", r.duplicates)
	}
	t.Logf("stopped at %d of %d in S3 with %d in flight handed to the DLQ; after restart all %d in S3, no duplicates",
		len(mid.inS3), len(want), handedOff, len(r.inS3))
}

// A second process joins the group mid-stream and later leaves: both
// rebalances hand work over without losing a record.
func TestE2E_RebalanceBothWays(t *testing.T) {
	e := newEnv(t, 1)
	_, apiURL := startAPI(t, mockapi.Config{Latency: 5 * time.Millisecond, ErrorRate: 0.05, Seed: 5})
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(12000, 0))
	args := e.runArgs(apiURL, "--max-pending=300", "--batch-max-records=300")
	a := e.start(t, args)
	e.waitFraction(t, want, 0.2, 2*time.Minute)
	b := e.start(t, args)
	assigned := regexp.MustCompile(`"msg":"partitions assigned","partitions":\[\d`)
	wait.For(t, 2*time.Minute, "the second process to get a partition", func() bool { return assigned.MatchString(b.tail(1000)) })
	e.waitFraction(t, want, 0.6, 2*time.Minute)
	if err := b.term(40 * time.Second); err != nil {
		t.Fatalf("second process exit: %v", err)
	}
	r := e.waitComplete(t, want, 2*time.Minute)
	if err := a.term(40 * time.Second); err != nil {
		t.Fatalf("first process exit: %v", err)
	}
	t.Logf("all %d records in S3 or parking; %d duplicate copies across two rebalances", len(want), r.duplicates)
}

// The S3 server is stopped for 20 s mid-stream: nothing is committed while
// nothing can be uploaded, and uploads resume when it is back.
func TestE2E_S3DownForTwentySeconds(t *testing.T) {
	e := newEnv(t, 1)
	if e.store == nil {
		t.Skip("needs the real S3 server process to stop and start it (reported above)")
	}
	e.createTopics(t, 1)
	want := produce(t, e.brokers, e.topic(), sampleRecords(8000, 0))
	p := e.start(t, e.runArgs("", "--batch-max-records=200", "--max-pending=400"))
	e.waitFraction(t, want, 0.2, 2*time.Minute)
	if err := e.store.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			e.store.Start() //nolint:errcheck // keep the shared server up for other tests
		}
	}()
	// Let in-flight acknowledgements settle, then the group must not move
	// while S3 is down: a commit now would be a commit of records not
	// uploaded.
	time.Sleep(2 * time.Second)
	before := e.committed(t, e.topic())
	time.Sleep(18 * time.Second)
	after := e.committed(t, e.topic())
	for part, off := range after {
		if off != before[part] {
			t.Fatalf("partition %d committed %d -> %d while S3 was down", part, before[part], off)
		}
	}
	if err := e.store.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	r := e.waitComplete(t, want, 2*time.Minute)
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	t.Logf("S3 down 20s: commits held at %v; afterwards all %d in S3 (%d duplicates)", before, len(r.inS3), r.duplicates)
}

// A broker of a three-node cluster (replication 3, min ISR 2) is killed
// mid-stream and later restarted: no record is lost.
func TestE2E_BrokerKilledInAThreeNodeCluster(t *testing.T) {
	e := newEnv(t, 3)
	if e.kafka == nil {
		t.Skip("needs a real three-node Kafka cluster (reported above)")
	}
	_, apiURL := startAPI(t, mockapi.Config{ErrorRate: 0.1, Seed: 9})
	e.createTopics(t, 3)
	want := produce(t, e.brokers, e.topic(), sampleRecords(10000, 0))
	p := e.start(t, e.runArgs(apiURL, "--replication-factor=3"))
	e.waitFraction(t, want, 0.2, 2*time.Minute)
	if err := e.kafka.StopNode(1, "KILL"); err != nil {
		t.Fatal(err)
	}
	e.waitFraction(t, want, 0.6, 3*time.Minute)
	if err := e.kafka.StartNode(1); err != nil {
		t.Fatal(err)
	}
	r := e.waitComplete(t, want, 3*time.Minute)
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	t.Logf("broker 1 killed and restarted: all %d records in S3 or parking (%d duplicates)", len(want), r.duplicates)
}
