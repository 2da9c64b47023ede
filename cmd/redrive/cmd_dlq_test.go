package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redrive-io/redrive"
	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/dlq/inspect"
	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/embedded"
	"github.com/redrive-io/redrive/internal/testenv"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// dlqTestEnv is where the inspector's end-to-end test runs: Kafka brokers
// and an S3 bucket. TestDLQ_EmbeddedEndToEnd starts both in-process; a
// real-services test calls testDLQInspector with real ones (topic and group
// names are unique per call, so a shared cluster is fine).
type dlqTestEnv struct {
	Brokers []string
	Bucket  string
	S3      sinks.S3ClientConfig
}

func TestDLQ_EmbeddedEndToEnd(t *testing.T) {
	k, err := embedded.StartKafka(3)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	store, err := embedded.StartS3("dlq-test")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testDLQInspector(t, dlqTestEnv{
		Brokers: k.Brokers(),
		Bucket:  "dlq-test",
		S3:      sinks.S3ClientConfig{Endpoint: store.URL, PathStyle: true, AccessKeyID: "x", SecretAccessKey: "y"},
	})
}

// testDLQInspector fills a DLQ and a parking topic through the real
// pipeline with known failures, then checks every inspector command against
// what was produced. The subtests share the topics and run in order: the
// read-only ones first, then replay, then tail (which writes a record).
func testDLQInspector(t *testing.T, env dlqTestEnv) {
	fx := fillDLQ(t, env)
	before := fx.committed(t)

	t.Run("stats has the exact figures", func(t *testing.T) { checkStats(t, fx) })
	t.Run("ls filters", func(t *testing.T) { checkLs(t, fx) })
	t.Run("show decodes headers", func(t *testing.T) { checkShow(t, fx) })
	t.Run("read commands never commit", func(t *testing.T) {
		// The pipeline is stopped, so only the inspector could have
		// moved the group's offsets.
		if after := fx.committed(t); !maps2Equal(before, after) {
			t.Fatalf("group offsets changed by read commands: before %v after %v", before, after)
		}
	})
	t.Run("replay", func(t *testing.T) { checkReplay(t, fx) })
	t.Run("tail follows new records", func(t *testing.T) { checkTail(t, fx) })
	t.Run("clear errors", func(t *testing.T) { checkErrors(t, fx) })
}

// The kinds of records produced, and what the pipeline does with each.
const (
	kindDirect    = "direct"    // category Y: straight to S3
	kindEnriched  = "enriched"  // category X, API answers: S3
	kindPermanent = "permanent" // API answers 400: parked http_4xx, attempt 0
	kindGarbage   = "garbage"   // API answers 200 with HTML: parked bad_response, attempt 0
	kindTransient = "transient" // API answers 503 forever: DLQ attempts 1 and 2, parked exhausted at 3
	kindFlaky     = "flaky"     // API answers 503 once: DLQ attempt 1, then S3
	kindMalformed = "malformed" // not JSON: parked malformed, attempt 0
	kindOversize  = "oversize"  // over max-record-bytes: parked oversize, attempt 0
)

// fixtureKinds says how many of each kind are produced.
var fixtureKinds = []struct {
	kind string
	n    int
}{
	{kindDirect, 12}, {kindEnriched, 6}, {kindPermanent, 6}, {kindGarbage, 3},
	{kindTransient, 4}, {kindFlaky, 4}, {kindMalformed, 3}, {kindOversize, 2},
}

const (
	fixtureMaxAttempts = 3
	fixtureMaxBytes    = 512
	fixturePartitions  = 3
	fixtureLate        = 5 // records produced while the pipeline is stopped, for the input lag
)

// producedRec is one record written to the input topic.
type producedRec struct {
	kind      string
	key       string
	value     []byte
	partition int32
	offset    int64
}

type dlqFixture struct {
	env                           dlqTestEnv
	input, dlqTopic, parking, grp string
	recs                          map[string]producedRec // by key
	late                          map[int32]int64        // late records per input partition
	badDLQ                        inspect.Coord          // the record with broken headers written to the DLQ
	api                           *faultyAPI
	start                         time.Time
}

// fillDLQ runs the pipeline over the fixture records until every record is
// in S3 or parked, stops it (so that its offsets are committed), then
// produces a few late records that only add input lag.
func fillDLQ(t *testing.T, env dlqTestEnv) *dlqFixture {
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	fx := &dlqFixture{
		env: env, input: "dlqt-" + suffix, grp: "dlqt-group-" + suffix,
		recs: map[string]producedRec{}, late: map[int32]int64{}, start: time.Now(),
	}
	fx.dlqTopic, fx.parking = fx.input+".dlq", fx.input+".parking"
	fx.api = newFaultyAPI(t)

	ctx, cancel := context.WithCancel(context.Background())
	r, done := fx.startPipeline(t, ctx)
	var batch []producedRec
	seq := 0
	for round := 0; ; round++ {
		added := false
		for _, k := range fixtureKinds {
			if round < k.n {
				batch = append(batch, fixtureRecord(k.kind, seq))
				seq++
				added = true
			}
		}
		if !added {
			break
		}
	}
	for _, p := range produceRecs(t, env.Brokers, fx.input, -1, nil, batch) {
		fx.recs[p.key] = p
	}
	// A DLQ record whose envelope cannot be decoded: the pipeline parks it
	// as bad_envelope.
	bad := produceRecs(t, env.Brokers, fx.dlqTopic, 1, []sarama.RecordHeader{{Key: []byte(dlq.HeaderAttempt), Value: []byte("x")}},
		[]producedRec{{key: "k-bad", value: []byte(`{"id":999,"category":"X"}`)}})
	fx.badDLQ = inspect.Coord{Partition: bad[0].partition, Offset: bad[0].offset}

	var toSink, parked, toDLQ int64
	for _, p := range fx.recs {
		switch p.kind {
		case kindDirect, kindEnriched:
			toSink++
		case kindFlaky:
			toSink++
			toDLQ++
		case kindTransient:
			toDLQ += fixtureMaxAttempts - 1
			parked++
		default:
			parked++
		}
	}
	parked++ // the bad DLQ record
	wait.For(t, 90*time.Second, "every record in S3, the DLQ or parking", func() bool {
		s := r.Stats()
		if time.Since(fx.start) > 80*time.Second {
			t.Logf("pipeline totals %+v, want to S3 %d, parked %d, to DLQ %d", s, toSink, parked, toDLQ)
		}
		return s.ToSink == toSink && s.Parked == parked && s.ToDLQ == toDLQ
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if s := r.Stats(); s.ToSink != toSink || s.Parked != parked || s.ToDLQ != toDLQ || s.HandedOff != 0 {
		t.Fatalf("pipeline totals %+v, want to S3 %d, parked %d, to DLQ %d, handed off 0", s, toSink, parked, toDLQ)
	}

	var late []producedRec
	for i := range fixtureLate {
		late = append(late, producedRec{kind: kindDirect, key: fmt.Sprintf("late-%d", i), value: fmt.Appendf(nil, `{"id":%d,"category":"Y"}`, 1000+i)})
	}
	for _, p := range produceRecs(t, env.Brokers, fx.input, -1, nil, late) {
		fx.late[p.partition]++
		fx.recs[p.key] = p
	}
	return fx
}

// fixtureRecord makes record number i of a kind; keys are unique.
func fixtureRecord(kind string, i int) producedRec {
	key := fmt.Sprintf("k-%03d", i)
	var v string
	switch kind {
	case kindDirect:
		v = fmt.Sprintf(`{"id":%d,"category":"Y"}`, i)
	case kindEnriched:
		v = fmt.Sprintf(`{"id":%d,"category":"X"}`, i)
	case kindMalformed:
		v = fmt.Sprintf(`not json %d`, i)
	case kindOversize:
		v = fmt.Sprintf(`{"id":%d,"category":"Y","pad":%q}`, i, strings.Repeat("x", fixtureMaxBytes))
	default:
		v = fmt.Sprintf(`{"id":%d,"category":"X","fail":%q}`, i, kind)
	}
	return producedRec{kind: kind, key: key, value: []byte(v)}
}

// startPipeline runs the real pipeline over the fixture's topics; done
// yields Run's result once ctx ends.
func (fx *dlqFixture) startPipeline(t *testing.T, ctx context.Context) (*redrive.Runner, <-chan error) {
	t.Helper()
	var topo redrive.Topology
	topo.Kafka.Brokers = fx.env.Brokers
	topo.Pipeline = pipeline.Config{Group: fx.grp, InputTopic: fx.input, DLQTopic: fx.dlqTopic, ParkingTopic: fx.parking, MaxRecordBytes: fixtureMaxBytes}
	topo.Pipeline.Retry = dlq.Policy{Base: 20 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxAttempts: fixtureMaxAttempts}
	topo.Topics = pipeline.Topics{Create: true, Partitions: fixturePartitions}
	topo.Enrich.When = `category == "X"`
	topo.Enrich.Client.URL = fx.api.url
	// One request per attempt, and a breaker that never opens, so that
	// every record meets exactly the failures its kind says.
	topo.Enrich.Client.Retries = enrich.NoRetries
	topo.Enrich.Client.BreakerFailures = 1 << 30
	topo.Sink.MaxAge = 200 * time.Millisecond
	topo.S3.Bucket = fx.env.Bucket
	topo.S3.Client = fx.env.S3
	topo.HTTPAddr = "off"
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	r, err := topo.Start(ctx, redrive.WithLogger(log))
	if err != nil {
		t.Fatalf("starting the pipeline: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, done
}

// faultyAPI answers each record as its "fail" field says, with mockapi
// servers doing the answering; once fixed, it answers every record.
type faultyAPI struct {
	url                    string
	ok, bad, garbage, down *mockapi.Server
	fixed                  atomic.Bool
	mu                     sync.Mutex
	flakySeen              map[float64]bool
}

func newFaultyAPI(t *testing.T) *faultyAPI {
	a := &faultyAPI{
		ok: mockapi.New(mockapi.Config{}), bad: mockapi.New(mockapi.Config{PermanentRate: 1}),
		garbage: mockapi.New(mockapi.Config{GarbageRate: 1}), down: mockapi.New(mockapi.Config{}),
		flakySeen: map[float64]bool{},
	}
	a.down.SetDown(true)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	a.url = srv.URL + "/enrich"
	return a
}

func (a *faultyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var rec struct {
		ID   float64 `json:"id"`
		Fail string  `json:"fail"`
	}
	_ = json.Unmarshal(body, &rec)
	if a.fixed.Load() {
		a.ok.ServeHTTP(w, r)
		return
	}
	switch rec.Fail {
	case kindPermanent:
		a.bad.ServeHTTP(w, r)
	case kindGarbage:
		a.garbage.ServeHTTP(w, r)
	case kindTransient:
		a.down.ServeHTTP(w, r)
	case kindFlaky:
		a.mu.Lock()
		first := !a.flakySeen[rec.ID]
		a.flakySeen[rec.ID] = true
		a.mu.Unlock()
		if first {
			a.down.ServeHTTP(w, r)
			return
		}
		a.ok.ServeHTTP(w, r)
	default:
		a.ok.ServeHTTP(w, r)
	}
}

// produceRecs writes records to topic, at partition part (or by key hash
// when part < 0), and returns them with their coordinates.
func produceRecs(t *testing.T, brokers []string, topic string, part int32, headers []sarama.RecordHeader, recs []producedRec) []producedRec {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	if part >= 0 {
		cfg.Producer.Partitioner = sarama.NewManualPartitioner
	}
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: part, Key: sarama.StringEncoder(r.key), Value: sarama.ByteEncoder(r.value), Headers: headers}
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
	out := make([]producedRec, len(recs))
	for i, m := range msgs {
		out[i] = recs[i]
		out[i].partition, out[i].offset = m.Partition, m.Offset
	}
	return out
}

// runDLQ runs `redrive dlq SUB ARGS...` in-process against the fixture.
func (fx *dlqFixture) runDLQ(t *testing.T, sub string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	full := append([]string{"dlq", sub, "--brokers", strings.Join(fx.env.Brokers, ","), "--input-topic", fx.input, "--group", fx.grp}, args...)
	err = run(ctx, full, &out, &errOut)
	if strings.Contains(errOut.String(), "\r") {
		t.Errorf("dlq %s wrote a progress bar to a stderr that is not a terminal: %q", sub, errOut.String())
	}
	return out.String(), errOut.String(), err
}

// mustDLQ is runDLQ that fails the test on an error.
func (fx *dlqFixture) mustDLQ(t *testing.T, sub string, args ...string) string {
	t.Helper()
	out, errOut, err := fx.runDLQ(t, sub, args...)
	if err != nil {
		t.Fatalf("dlq %s %v: %v\nstderr: %s", sub, args, err, errOut)
	}
	return out
}

// lsJSON runs ls --json with args and decodes the records.
func (fx *dlqFixture) lsJSON(t *testing.T, args ...string) []inspect.RecordJSON {
	t.Helper()
	return decodeLines[inspect.RecordJSON](t, fx.mustDLQ(t, "ls", append([]string{"--json"}, args...)...))
}

func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var res []T
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("decoding %q: %v", sc.Text(), err)
		}
		res = append(res, v)
	}
	return res
}

// figures are the expected figures of one partition.
type figures struct {
	records   int64
	byClass   map[string]int64
	byAttempt map[int]int64
}

func (f *figures) add(class string, attempt int) {
	f.records++
	f.byClass[class]++
	if attempt >= 0 {
		f.byAttempt[attempt]++
	}
}

// expected derives the DLQ and parking figures per partition from what was
// produced and the pipeline's rules.
func (fx *dlqFixture) expected() (dlqF, parkF map[int32]*figures) {
	dlqF, parkF = map[int32]*figures{}, map[int32]*figures{}
	for p := range int32(fixturePartitions) {
		dlqF[p] = &figures{byClass: map[string]int64{}, byAttempt: map[int]int64{}}
		parkF[p] = &figures{byClass: map[string]int64{}, byAttempt: map[int]int64{}}
	}
	for _, r := range fx.recs {
		switch r.kind {
		case kindPermanent:
			parkF[r.partition].add("http_4xx", 0)
		case kindGarbage:
			parkF[r.partition].add("bad_response", 0)
		case kindMalformed:
			parkF[r.partition].add("malformed", 0)
		case kindOversize:
			parkF[r.partition].add("oversize", 0)
		case kindTransient:
			for a := 1; a < fixtureMaxAttempts; a++ {
				dlqF[r.partition].add("http_5xx", a)
			}
			parkF[r.partition].add("exhausted", fixtureMaxAttempts)
		case kindFlaky:
			dlqF[r.partition].add("http_5xx", 1)
		}
	}
	dlqF[fx.badDLQ.Partition].add(inspect.ClassBadEnvelope, -1)
	parkF[fx.badDLQ.Partition].add(inspect.ClassBadEnvelope, 0)
	return dlqF, parkF
}

func (fx *dlqFixture) keysOf(kind string) []string {
	var keys []string
	for k, r := range fx.recs {
		if r.kind == kind {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func checkStats(t *testing.T, fx *dlqFixture) {
	got := map[inspect.Role]inspect.TopicStats{}
	for _, ts := range decodeLines[inspect.TopicStats](t, fx.mustDLQ(t, "stats", "--json")) {
		got[ts.Role] = ts
	}
	dlqF, parkF := fx.expected()
	parked := readEnvelopes(t, fx.env.Brokers, fx.parking)
	// The figures per partition rely on the pipeline's contract: a record
	// is parked on (source partition mod parking partitions).
	for _, e := range parked {
		if want := e.env.Origin.Partition % fixturePartitions; e.partition != want {
			t.Errorf("parked record %s (source partition %d) is on parking partition %d, want %d: the pipeline does not place parked records as pipeline.Config.ParkingPartitions says",
				e.key, e.env.Origin.Partition, e.partition, want)
		}
	}
	for _, c := range []struct {
		role  inspect.Role
		topic string
		want  map[int32]*figures
	}{{inspect.RoleDLQ, fx.dlqTopic, dlqF}, {inspect.RoleParking, fx.parking, parkF}} {
		ts, ok := got[c.role]
		if !ok || ts.Topic != c.topic {
			t.Fatalf("stats has no %s topic %s: %+v", c.role, c.topic, got)
		}
		if len(ts.Partitions) != fixturePartitions {
			t.Fatalf("%s: %d partitions, want %d", c.topic, len(ts.Partitions), fixturePartitions)
		}
		total := figures{byClass: map[string]int64{}, byAttempt: map[int]int64{}}
		for _, p := range ts.Partitions {
			w := c.want[*p.Partition]
			checkFigures(t, fmt.Sprintf("%s/%d", c.topic, *p.Partition), p, *w)
			total.records += w.records
			for k, v := range w.byClass {
				total.byClass[k] += v
			}
			for k, v := range w.byAttempt {
				total.byAttempt[k] += v
			}
			if p.ReplayMarkers != 0 || p.Replayed != 0 {
				t.Errorf("%s/%d: %d markers, %d replayed before any replay", c.topic, *p.Partition, p.ReplayMarkers, p.Replayed)
			}
		}
		checkFigures(t, c.topic+" total", ts.Total, total)
		t.Logf("%s: %d records, by class %v, by attempt %v", c.topic, ts.Total.Records, ts.Total.ByClass, ts.Total.ByAttempt)
	}

	// First failures: compared with the parking topic read independently.
	pk := got[inspect.RoleParking]
	for _, p := range pk.Partitions {
		var lo, hi time.Time
		for _, e := range parked {
			if e.partition != *p.Partition || e.err != nil {
				continue
			}
			if lo.IsZero() || e.env.FirstFailure.Before(lo) {
				lo = e.env.FirstFailure
			}
			if e.env.FirstFailure.After(hi) {
				hi = e.env.FirstFailure
			}
		}
		if p.OldestFailure == nil || !p.OldestFailure.Equal(lo) || !p.NewestFailure.Equal(hi) {
			t.Errorf("parking/%d: first failures %v..%v, want %v..%v", *p.Partition, p.OldestFailure, p.NewestFailure, lo, hi)
		}
		if lo.Before(fx.start) || hi.After(time.Now()) {
			t.Errorf("parking/%d: first failures %v..%v outside the test's run", *p.Partition, lo, hi)
		}
	}

	// Lag: the stopped pipeline committed everything it read, so the DLQ
	// has none and the input topic has exactly the late records.
	dq := got[inspect.RoleDLQ]
	if dq.Group != fx.grp || dq.Total.Lag == nil || *dq.Total.Lag != 0 {
		t.Errorf("DLQ lag of group %s: %v, want 0", dq.Group, dq.Total.Lag)
	}
	in := got[inspect.RoleInput]
	for _, p := range in.Partitions {
		if p.Lag == nil || *p.Lag != fx.late[*p.Partition] {
			t.Errorf("input/%d lag %v, want %d", *p.Partition, p.Lag, fx.late[*p.Partition])
		}
		if p.Committed == nil || *p.Committed != p.End-fx.late[*p.Partition] {
			t.Errorf("input/%d committed %v, want %d", *p.Partition, p.Committed, p.End-fx.late[*p.Partition])
		}
	}
	if in.Total.Lag == nil || *in.Total.Lag != fixtureLate {
		t.Errorf("input total lag %v, want %d", in.Total.Lag, fixtureLate)
	}
	if pk.Total.Lag != nil {
		t.Errorf("parking lag %v: the group does not consume the parking topic", *pk.Total.Lag)
	}

	// What waits, beside what is retained: the drained DLQ retains its
	// records and has none waiting; the parking topic's records all wait
	// (none was replayed yet); the input topic's are its late records.
	if dq.Total.Records == 0 || dq.Total.Waiting != 0 || len(dq.Total.WaitingByClass) != 0 {
		t.Errorf("drained DLQ: retained %d, waiting %d %v; want some retained and none waiting", dq.Total.Records, dq.Total.Waiting, dq.Total.WaitingByClass)
	}
	if pk.Total.Waiting != pk.Total.Records || in.Total.Waiting != fixtureLate {
		t.Errorf("waiting: parking %d of %d, input %d of %d late", pk.Total.Waiting, pk.Total.Records, in.Total.Waiting, fixtureLate)
	}
	if dq.NoCommittedOffsets || in.NoCommittedOffsets {
		t.Errorf("the pipeline's group is flagged as having no committed offsets")
	}

	// A group with no committed offsets (a typo) is warned about.
	_, errOut, err := fx.runDLQ(t, "stats", "--json", "--group", fx.grp+"-typo")
	if err != nil || !strings.Contains(errOut, fmt.Sprintf("warning: group %q has no committed offsets on %s", fx.grp+"-typo", fx.dlqTopic)) ||
		!strings.Contains(errOut, fmt.Sprintf("no committed offsets on %s,", fx.input)) {
		t.Errorf("stats --group typo: err %v, stderr %q: want a warning per topic", err, errOut)
	}

	// The table says the same totals.
	table := fx.mustDLQ(t, "stats")
	for _, c := range []struct {
		topic string
		n     int64
	}{{fx.dlqTopic, dq.Total.Records}, {fx.parking, pk.Total.Records}} {
		if !tableHasRow(table, c.topic, "total", strconv.FormatInt(c.n, 10)) {
			t.Errorf("stats table has no total row of %d for %s:\n%s", c.n, c.topic, table)
		}
	}
	t.Logf("stats table:\n%s", table)
}

func checkFigures(t *testing.T, what string, got inspect.PartitionStats, want figures) {
	t.Helper()
	norm := func(m map[string]int64) map[string]int64 {
		if m == nil {
			return map[string]int64{}
		}
		return m
	}
	normA := func(m map[int]int64) map[int]int64 {
		if m == nil {
			return map[int]int64{}
		}
		return m
	}
	if got.Records != want.records || !maps2Equal(norm(got.ByClass), want.byClass) || !maps2Equal(normA(got.ByAttempt), want.byAttempt) {
		t.Errorf("%s: %d records, by class %v, by attempt %v; want %d, %v, %v",
			what, got.Records, got.ByClass, got.ByAttempt, want.records, want.byClass, want.byAttempt)
	}
}

func maps2Equal[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// tableHasRow reports whether a line of table starts with these cells.
func tableHasRow(table string, cells ...string) bool {
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) >= len(cells)+1 && f[0] == cells[0] && slices.Equal(f[2:len(cells)+1], cells[1:]) {
			return true
		}
	}
	return false
}

func checkLs(t *testing.T, fx *dlqFixture) {
	dlqF, parkF := fx.expected()
	var nDLQ, nPark int
	for p := range int32(fixturePartitions) {
		nDLQ += int(dlqF[p].records)
		nPark += int(parkF[p].records)
	}
	all := fx.lsJSON(t)
	if len(all) != nDLQ+nPark {
		t.Fatalf("ls: %d records, want %d", len(all), nDLQ+nPark)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Role == b.Role && (a.Partition > b.Partition || a.Partition == b.Partition && a.Offset >= b.Offset) || a.Role == inspect.RoleParking && b.Role == inspect.RoleDLQ {
			t.Fatalf("ls order: %s %d:%d before %s %d:%d", a.Role, a.Partition, a.Offset, b.Role, b.Partition, b.Offset)
		}
	}

	keys := func(recs []inspect.RecordJSON) []string {
		var ks []string
		for _, r := range recs {
			ks = append(ks, *r.Key)
		}
		sort.Strings(ks)
		return slices.Compact(ks)
	}
	transientKey := fx.keysOf(kindTransient)[0]
	parked := readEnvelopes(t, fx.env.Brokers, fx.parking)
	var times []time.Time
	for _, e := range parked {
		times = append(times, e.env.FirstFailure)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	mid := times[len(times)/2]
	sinceMid := 0
	for _, tm := range times {
		if !tm.Before(mid) {
			sinceMid++
		}
	}

	for _, c := range []struct {
		name  string
		args  []string
		n     int
		check func(r inspect.RecordJSON) bool
		keys  []string // exact keys, when known
	}{
		{"--topic dlq", []string{"--topic", "dlq"}, nDLQ, func(r inspect.RecordJSON) bool { return r.Role == inspect.RoleDLQ }, nil},
		{"--topic parking", []string{"--topic", "parking"}, nPark, func(r inspect.RecordJSON) bool { return r.Role == inspect.RoleParking }, nil},
		{"--error one class", []string{"--error", "http_4xx"}, len(fx.keysOf(kindPermanent)),
			func(r inspect.RecordJSON) bool { return r.ErrorClass == "http_4xx" && r.Attempt == 0 }, fx.keysOf(kindPermanent)},
		{"--error two classes", []string{"--topic", "parking", "--error", "malformed,oversize"}, len(fx.keysOf(kindMalformed)) + len(fx.keysOf(kindOversize)),
			func(r inspect.RecordJSON) bool { return r.ErrorClass == "malformed" || r.ErrorClass == "oversize" }, append(fx.keysOf(kindMalformed), fx.keysOf(kindOversize)...)},
		{"--error bad_envelope", []string{"--error", inspect.ClassBadEnvelope}, 2,
			func(r inspect.RecordJSON) bool { return *r.Key == "k-bad" }, []string{"k-bad"}},
		{"--key", []string{"--key", transientKey}, fixtureMaxAttempts,
			func(r inspect.RecordJSON) bool { return *r.Key == transientKey }, []string{transientKey}},
		{"--min-attempts", []string{"--min-attempts", "2"}, 2 * len(fx.keysOf(kindTransient)),
			func(r inspect.RecordJSON) bool { return r.Attempt >= 2 }, fx.keysOf(kindTransient)},
		{"--since duration", []string{"--topic", "parking", "--since", "1h"}, nPark, nil, nil},
		{"--until duration", []string{"--topic", "parking", "--until", "1h"}, 0, nil, nil},
		{"--since time", []string{"--topic", "parking", "--since", mid.Format(time.RFC3339Nano)}, sinceMid,
			func(r inspect.RecordJSON) bool { return !r.FirstFailure.Before(mid) }, nil},
		{"--until time", []string{"--topic", "parking", "--until", mid.Format(time.RFC3339Nano)}, len(times) - sinceMid,
			func(r inspect.RecordJSON) bool { return r.FirstFailure.Before(mid) }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fx.lsJSON(t, c.args...)
			if len(got) != c.n {
				t.Fatalf("ls %v: %d records, want %d", c.args, len(got), c.n)
			}
			for _, r := range got {
				if c.check != nil && !c.check(r) {
					t.Errorf("ls %v: unexpected record %+v", c.args, r)
				}
			}
			if c.keys != nil {
				want := slices.Clone(c.keys)
				sort.Strings(want)
				if g := keys(got); !slices.Equal(g, want) {
					t.Errorf("ls %v: keys %v, want %v", c.args, g, want)
				}
			}
		})
	}

	t.Run("--limit keeps the first records", func(t *testing.T) {
		got := fx.lsJSON(t, "--limit", "3")
		if len(got) != 3 {
			t.Fatalf("ls --limit 3: %d records", len(got))
		}
		for i := range got {
			if got[i].Partition != all[i].Partition || got[i].Offset != all[i].Offset || got[i].Role != all[i].Role {
				t.Errorf("ls --limit 3: record %d is %s %d:%d, want %s %d:%d", i, got[i].Role, got[i].Partition, got[i].Offset, all[i].Role, all[i].Partition, all[i].Offset)
			}
		}
		// The limit counts across both topics.
		got = fx.lsJSON(t, "--limit", strconv.Itoa(nDLQ+2))
		if len(got) != nDLQ+2 || got[nDLQ].Role != inspect.RoleParking {
			t.Errorf("ls --limit %d: %d records, want the DLQ's %d and 2 parked", nDLQ+2, len(got), nDLQ)
		}
	})

	t.Run("table", func(t *testing.T) {
		out := fx.mustDLQ(t, "ls", "--topic", "parking", "--error", "http_4xx")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 1+len(fx.keysOf(kindPermanent)) || !strings.HasPrefix(lines[0], "TOPIC") {
			t.Fatalf("ls table:\n%s", out)
		}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if f[0] != "parking" || f[3] != "0" || f[4] != "http_4xx" || f[6] != "-" || !strings.HasPrefix(f[7], `{"id":`) {
				t.Errorf("ls table line %q", l)
			}
		}
	})
}

func checkShow(t *testing.T, fx *dlqFixture) {
	key := fx.keysOf(kindPermanent)[0]
	src := fx.recs[key]
	recs := fx.lsJSON(t, "--topic", "parking", "--key", key)
	if len(recs) != 1 {
		t.Fatalf("ls --key %s: %d records", key, len(recs))
	}
	at := fmt.Sprintf("%d:%d", recs[0].Partition, recs[0].Offset)

	got := decodeLines[inspect.RecordJSON](t, fx.mustDLQ(t, "show", "--json", at))
	if len(got) != 1 {
		t.Fatalf("show --json %s: %d lines", at, len(got))
	}
	r := got[0]
	wantOrigin := inspect.OriginJSON{Topic: fx.input, Partition: src.partition, Offset: src.offset}
	switch {
	case r.Attempt != 0, r.ErrorClass != "http_4xx", !strings.Contains(r.Error, "400"),
		r.Origin == nil || *r.Origin != wantOrigin, r.FirstFailure == nil, r.NotBefore != nil,
		r.Replay != nil, r.ValueEncoding != "json", string(r.Value) != string(src.value),
		r.Headers[dlq.HeaderAttempt] != "0", r.Headers[dlq.HeaderErrorClass] != "http_4xx":
		t.Errorf("show --json %s: %+v (value %s); want attempt 0, http_4xx, origin %+v, value %s", at, r, r.Value, wantOrigin, src.value)
	}

	text := fx.mustDLQ(t, "show", at)
	for _, want := range []string{
		"attempt        0", "error class    http_4xx", fmt.Sprintf("origin         %s/%d@%d", fx.input, src.partition, src.offset),
		"replayed       no", "not before     -", dlq.HeaderFirstFailure + ": ", `"category": "X"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("show %s lacks %q:\n%s", at, want, text)
		}
	}
	t.Logf("show %s:\n%s", at, text)

	// A DLQ record: attempt 2 carries a not-before time.
	tk := fx.keysOf(kindTransient)[0]
	dl := fx.lsJSON(t, "--topic", "dlq", "--key", tk, "--min-attempts", "2")
	if len(dl) != 1 {
		t.Fatalf("ls --topic dlq --key %s --min-attempts 2: %d records", tk, len(dl))
	}
	d := decodeLines[inspect.RecordJSON](t, fx.mustDLQ(t, "show", "--json", "--topic", "dlq", fmt.Sprintf("%d:%d", dl[0].Partition, dl[0].Offset)))[0]
	if d.Attempt != 2 || d.ErrorClass != "http_5xx" || d.NotBefore == nil || d.Origin == nil || d.Origin.Offset != fx.recs[tk].offset {
		t.Errorf("show DLQ record: %+v", d)
	}

	// The DLQ record whose headers are broken says why.
	text = fx.mustDLQ(t, "show", "--topic", "dlq", fx.badDLQ.String())
	if !strings.Contains(text, "cannot be decoded") || !strings.Contains(text, dlq.HeaderAttempt) {
		t.Errorf("show of the bad DLQ record:\n%s", text)
	}
}

func checkReplay(t *testing.T, fx *dlqFixture) {
	perm := fx.keysOf(kindPermanent)
	inputEnd := endOffsets(t, fx.env.Brokers, fx.input)
	parkEnd := endOffsets(t, fx.env.Brokers, fx.parking)

	t.Run("dry run sends nothing", func(t *testing.T) {
		out := fx.mustDLQ(t, "replay", "--error", "http_4xx")
		if !strings.Contains(out, fmt.Sprintf("dry run: %d parked records would be replayed to %s", len(perm), fx.input)) ||
			strings.Count(out, "http_4xx") != len(perm) {
			t.Errorf("replay dry run output:\n%s", out)
		}
		if g := endOffsets(t, fx.env.Brokers, fx.input); !maps2Equal(g, inputEnd) {
			t.Errorf("dry run wrote to the input topic: end offsets %v, were %v", g, inputEnd)
		}
		if g := endOffsets(t, fx.env.Brokers, fx.parking); !maps2Equal(g, parkEnd) {
			t.Errorf("dry run wrote to the parking topic: end offsets %v, were %v", g, parkEnd)
		}
		t.Logf("dry run:\n%s", out)
	})

	t.Run("records that would be parked again are not replayed without --force", func(t *testing.T) {
		for _, class := range []string{"malformed", "oversize,http_4xx"} {
			_, _, err := fx.runDLQ(t, "replay", "--error", class, "--yes")
			if exitCode(err) != 2 || !strings.Contains(err.Error(), "--force") {
				t.Errorf("replay --error %s --yes: err = %v, want a usage error asking for --force", class, err)
			}
		}
		out, errOut, err := fx.runDLQ(t, "replay", "--json")
		if err != nil {
			t.Fatal(err)
		}
		again := len(fx.keysOf(kindMalformed)) + len(fx.keysOf(kindOversize))
		want := fmt.Sprintf("replay: skipped %d records that would be parked again on arrival (%d malformed, %d oversize)",
			again, len(fx.keysOf(kindMalformed)), len(fx.keysOf(kindOversize)))
		if !strings.Contains(errOut, want) {
			t.Errorf("dry run's stderr lacks %q:\n%s", want, errOut)
		}
		lines := decodeLines[json.RawMessage](t, out)
		for _, l := range lines[:len(lines)-1] {
			var r inspect.RecordJSON
			if err := json.Unmarshal(l, &r); err != nil || r.ErrorClass == "malformed" || r.ErrorClass == "oversize" {
				t.Errorf("the dry run would replay %s (%v)", l, err)
			}
		}
		var sum struct{ Summary replaySummary }
		if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil || sum.Summary.SkippedParkedAgain != again {
			t.Errorf("summary %s: want skipped_parked_again %d", lines[len(lines)-1], again)
		}
		if g := endOffsets(t, fx.env.Brokers, fx.input); !maps2Equal(g, inputEnd) {
			t.Errorf("a refused replay wrote to the input topic: end offsets %v, were %v", g, inputEnd)
		}
	})

	t.Run("--yes sends each record once, with a marker", func(t *testing.T) {
		out, errOut, err := fx.runDLQ(t, "replay", "--error", "http_4xx", "--yes", "--rate", "0", "--json")
		if err != nil {
			t.Fatalf("replay: %v\nstderr: %s", err, errOut)
		}
		for _, want := range []string{fmt.Sprintf("replay: sending %d records\n", len(perm)), fmt.Sprintf("replay: %d/%d sent (100%%)", len(perm), len(perm))} {
			if !strings.Contains(errOut, want) {
				t.Errorf("replay's progress on stderr lacks %q:\n%s", want, errOut)
			}
		}
		lines := decodeLines[json.RawMessage](t, out)
		var sum struct{ Summary replaySummary }
		if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil || sum.Summary.Sent != len(perm) || sum.Summary.Selected != len(perm) || sum.Summary.DryRun {
			t.Fatalf("replay summary %s (%v), want %d sent", lines[len(lines)-1], err, len(perm))
		}
		wantIn := map[int32]int64{}
		wantPark := map[int32]int64{}
		for _, l := range lines[:len(lines)-1] {
			var r inspect.RecordJSON
			if err := json.Unmarshal(l, &r); err != nil || r.Replay == nil {
				t.Fatalf("replayed record %s: %v", l, err)
			}
			src := fx.recs[*r.Key]
			if r.Replay.To.Topic != fx.input || r.Replay.To.Partition != src.partition {
				t.Errorf("record %s replayed to %+v, want %s partition %d", *r.Key, r.Replay.To, fx.input, src.partition)
			}
			wantIn[src.partition]++
			wantPark[r.Partition]++
		}
		checkGrowth(t, fx.input, inputEnd, endOffsets(t, fx.env.Brokers, fx.input), wantIn)
		checkGrowth(t, fx.parking, parkEnd, endOffsets(t, fx.env.Brokers, fx.parking), wantPark)

		// The copies on the input topic: same key and value, a fresh
		// envelope that keeps the origin.
		for _, c := range readEnvelopesFrom(t, fx.env.Brokers, fx.input, inputEnd) {
			src := fx.recs[c.key]
			e := c.env
			if c.err != nil || src.kind != kindPermanent || string(c.value) != string(src.value) || e.Attempt != 0 || e.ErrorClass != "" ||
				e.Error != "" || !e.NotBefore.IsZero() || e.Replayed.IsZero() || e.Origin != (dlq.Origin{Topic: fx.input, Partition: src.partition, Offset: src.offset}) {
				t.Errorf("replayed copy %s: %+v (err %v), value %s", c.key, e, c.err, c.value)
			}
		}
	})

	t.Run("the same selection again sends nothing", func(t *testing.T) {
		inputEnd, parkEnd := endOffsets(t, fx.env.Brokers, fx.input), endOffsets(t, fx.env.Brokers, fx.parking)
		out := fx.mustDLQ(t, "replay", "--error", "http_4xx", "--yes")
		want := fmt.Sprintf("replayed 0 of 0 parked records to %s (at most 100/s); %d already replayed, skipped; 0 failed, 0 not marked.", fx.input, len(perm))
		if !strings.Contains(out, want) {
			t.Errorf("second replay said:\n%s\nwant %q", out, want)
		}
		if g := endOffsets(t, fx.env.Brokers, fx.input); !maps2Equal(g, inputEnd) {
			t.Errorf("second replay wrote to the input topic: %v, were %v", g, inputEnd)
		}
		if g := endOffsets(t, fx.env.Brokers, fx.parking); !maps2Equal(g, parkEnd) {
			t.Errorf("second replay wrote to the parking topic: %v, were %v", g, parkEnd)
		}
	})

	t.Run("stats and ls count the markers", func(t *testing.T) {
		var pk inspect.TopicStats
		for _, ts := range decodeLines[inspect.TopicStats](t, fx.mustDLQ(t, "stats", "--json")) {
			if ts.Role == inspect.RoleParking {
				pk = ts
			}
		}
		_, parkF := fx.expected()
		var n int64
		for _, f := range parkF {
			n += f.records
		}
		if pk.Total.Records != n || pk.Total.ReplayMarkers != int64(len(perm)) || pk.Total.Replayed != int64(len(perm)) {
			t.Errorf("parking after replay: %d records, %d markers, %d replayed; want %d, %d, %d",
				pk.Total.Records, pk.Total.ReplayMarkers, pk.Total.Replayed, n, len(perm), len(perm))
		}
		parked := fx.lsJSON(t, "--topic", "parking")
		if len(parked) != int(n) {
			t.Errorf("ls after replay: %d parked records, want %d (markers are not records)", len(parked), n)
		}
		for _, r := range parked {
			if (r.ErrorClass == "http_4xx") != (r.Replay != nil) {
				t.Errorf("ls after replay: %s %d:%d class %s replay %+v", r.Role, r.Partition, r.Offset, r.ErrorClass, r.Replay)
			}
		}
	})

	t.Run("replayed records come out in S3 with their origin", func(t *testing.T) {
		fx.api.fixed.Store(true)
		ctx, cancel := context.WithCancel(context.Background())
		r, done := fx.startPipeline(t, ctx)
		client, err := sinks.NewS3Client(context.Background(), fx.env.S3)
		if err != nil {
			t.Fatal(err)
		}
		var out []pipeline.Meta
		wait.For(t, 45*time.Second, "the replayed and late records in S3", func() bool {
			s := r.Stats()
			return s.ToSink == int64(len(perm)+fixtureLate)
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("pipeline: %v", err)
		}
		out = readS3Meta(t, client, fx.env.Bucket, fx.input)
		replayed := map[string]pipeline.Meta{}
		for _, m := range out {
			if m.ReplayedAt != nil {
				replayed[fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset)] = m
			}
		}
		if len(replayed) != len(perm) {
			t.Errorf("S3 has %d replayed records, want %d", len(replayed), len(perm))
		}
		for _, k := range perm {
			src := fx.recs[k]
			m, ok := replayed[fmt.Sprintf("%s/%d@%d", fx.input, src.partition, src.offset)]
			if !ok || m.Attempt != 0 || !m.Enriched || m.ReplayedAt.Before(fx.start) {
				t.Errorf("replayed record %s (origin %s/%d@%d): %+v in S3 (found %v)", k, fx.input, src.partition, src.offset, m, ok)
			}
		}
	})
}

// checkGrowth compares how much each partition's end offset grew.
func checkGrowth(t *testing.T, topic string, before, after, want map[int32]int64) {
	t.Helper()
	for p := range after {
		if d := after[p] - before[p]; d != want[p] {
			t.Errorf("%s/%d grew by %d records, want %d", topic, p, d, want[p])
		}
	}
}

func checkTail(t *testing.T, fx *dlqFixture) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut wait.SyncBuffer
	args := []string{"dlq", "tail", "--brokers", strings.Join(fx.env.Brokers, ","), "--input-topic", fx.input,
		"--topic", "parking", "--json", "--limit", "1"}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, &out, &errOut) }()
	wait.For(t, 20*time.Second, "tail to start", func() bool { return strings.Contains(errOut.String(), "following") })

	// A marker first (tail must skip it), then a parked record.
	mk := inspect.MarkerMessage(inspect.Record{Topic: inspect.Topic{Name: fx.parking}, Partition: 0, Offset: 0, Key: []byte("tail-marker")},
		dlq.Origin{Topic: fx.input, Partition: 0, Offset: 0}, time.Now())
	produceRecs(t, fx.env.Brokers, fx.parking, 0, recordHeaders(mk.Headers), []producedRec{{key: "tail-marker", value: mk.Value}})
	env := dlq.Envelope{Origin: dlq.Origin{Topic: fx.input, Partition: 0, Offset: 12345}, Attempt: 1, FirstFailure: time.Now(), ErrorClass: "tail_test", Error: "for tail"}
	produceRecs(t, fx.env.Brokers, fx.parking, 0, recordHeaders(env.Headers()), []producedRec{{key: "tail-key", value: []byte(`{"id":-1}`)}})

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("tail: %v\n%s", err, errOut.String())
		}
	case <-ctx.Done():
		t.Fatalf("tail did not stop after --limit 1; stdout %q", out.String())
	}
	got := decodeLines[inspect.RecordJSON](t, out.String())
	if len(got) != 1 || *got[0].Key != "tail-key" || got[0].ErrorClass != "tail_test" || got[0].Attempt != 1 {
		t.Fatalf("tail printed %+v, want the one parked record", got)
	}
}

func recordHeaders(hs []dlq.Header) []sarama.RecordHeader {
	out := make([]sarama.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value}
	}
	return out
}

func checkErrors(t *testing.T, fx *dlqFixture) {
	t.Run("bad filters name the flag and the value", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want []string
		}{
			{[]string{"ls", "--since", "yesterday"}, []string{"since", `"yesterday"`}},
			{[]string{"ls", "--until", "-5m"}, []string{"until", `"-5m"`}},
			{[]string{"ls", "--min-attempts", "-1"}, []string{"min-attempts", "-1"}},
			{[]string{"ls", "--topic", "main"}, []string{"topic", `"main"`}},
			{[]string{"ls", "--error", "http 4xx"}, []string{"error", `"http 4xx"`}},
			{[]string{"ls", "--since", "1h", "--until", "2h"}, []string{"since", "until"}},
			{[]string{"replay", "--rate", "-1"}, []string{"rate", "-1"}},
			{[]string{"show", "3-4"}, []string{"PARTITION:OFFSET", `"3-4"`}},
		} {
			_, _, err := fx.runDLQ(t, c.args[0], c.args[1:]...)
			var ue usageError
			if err == nil || !errors.As(err, &ue) {
				t.Errorf("dlq %v: error %v, want a usage error", c.args, err)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("dlq %v: error %q does not name %s", c.args, err, w)
				}
			}
		}
	})

	t.Run("REDRIVE_YES does not replace --yes", func(t *testing.T) {
		t.Setenv(envName("yes"), "true")
		before := endOffsets(t, fx.env.Brokers, fx.input)
		_, _, err := fx.runDLQ(t, "replay", "--yes", "--error", "bad_response")
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "REDRIVE_YES") {
			t.Errorf("replay with REDRIVE_YES set: %v, want a usage error naming it", err)
		}
		if after := endOffsets(t, fx.env.Brokers, fx.input); !maps2Equal(before, after) {
			t.Errorf("replay with REDRIVE_YES wrote to the input topic: %v, were %v", after, before)
		}
	})

	t.Run("missing topic names it and its flag", func(t *testing.T) {
		ctx := context.Background()
		var out, errOut bytes.Buffer
		missing := fx.input + "-nosuch"
		err := run(ctx, []string{"dlq", "ls", "--brokers", strings.Join(fx.env.Brokers, ","), "--input-topic", missing}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "dlq-topic") || !strings.Contains(err.Error(), missing+".dlq") || !strings.Contains(err.Error(), "REDRIVE_DLQ_TOPIC") {
			t.Errorf("ls on a missing topic: %v", err)
		}
		err = run(ctx, []string{"dlq", "stats", "--brokers", strings.Join(fx.env.Brokers, ","), "--input-topic", missing,
			"--dlq-topic", fx.dlqTopic, "--parking-topic", fx.parking}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "input-topic") || !strings.Contains(err.Error(), strconv.Quote(missing)) {
			t.Errorf("stats on a missing input topic: %v", err)
		}
		if endOffsetsErr(fx.env.Brokers, missing+".dlq") == nil {
			t.Errorf("reading created the missing topic %s", missing+".dlq")
		}
		err = run(ctx, []string{"dlq", "ls", "--brokers", strings.Join(fx.env.Brokers, ",")}, &out, &errOut)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "input-topic: required") {
			t.Errorf("ls without topics: %v", err)
		}
	})

	t.Run("unreachable broker names the addresses and what was tried", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var out, errOut bytes.Buffer
		err = run(context.Background(), []string{"dlq", "stats", "--brokers", addr, "--input-topic", "x"}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "cannot connect") ||
			!strings.Contains(err.Error(), "dial timeout") || exitCode(err) != 1 {
			t.Errorf("stats on an unreachable broker: %v (exit %d)", err, exitCode(err))
		}
	})
}

// envelopeRec is a record read back with its envelope, by the test's own
// reader (not the inspector's).
type envelopeRec struct {
	partition int32
	offset    int64
	key       string
	value     []byte
	env       dlq.Envelope
	err       error
}

// readEnvelopes reads every record of topic, replay markers excluded.
func readEnvelopes(t *testing.T, brokers []string, topic string) []envelopeRec {
	return readEnvelopesFrom(t, brokers, topic, nil)
}

// readEnvelopesFrom reads topic from the given offsets (nil: the oldest) to
// its end.
func readEnvelopesFrom(t *testing.T, brokers []string, topic string, from map[int32]int64) []envelopeRec {
	t.Helper()
	msgs, err := testenv.ReadTopic(brokers, testClientConfig(), topic, from)
	if err != nil {
		t.Fatal(err)
	}
	var out []envelopeRec
	for _, m := range msgs {
		hs := make([]dlq.Header, len(m.Headers))
		marker := false
		for i, h := range m.Headers {
			hs[i] = dlq.Header{Key: string(h.Key), Value: h.Value}
			marker = marker || string(h.Key) == inspect.HeaderReplayOf
		}
		if !marker {
			env, err := dlq.ParseHeaders(hs)
			out = append(out, envelopeRec{partition: m.Partition, offset: m.Offset, key: string(m.Key), value: m.Value, env: env, err: err})
		}
	}
	return out
}

// testClientConfig is the config of the test's own clients: they never
// create topics.
func testClientConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Metadata.AllowAutoTopicCreation = false
	return cfg
}

// testClient is the test's own client.
func testClient(t *testing.T, brokers []string) sarama.Client {
	t.Helper()
	client, err := sarama.NewClient(brokers, testClientConfig())
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return client
}

// endOffsets returns each partition's high-water mark.
func endOffsets(t *testing.T, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	client := testClient(t, brokers)
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	for _, p := range parts {
		if out[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// endOffsetsErr reports whether topic exists, without creating it.
func endOffsetsErr(brokers []string, topic string) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Metadata.AllowAutoTopicCreation = false
	cfg.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	_, err = client.Partitions(topic)
	return err
}

// committed reads the pipeline group's committed offsets of the input and
// DLQ topics with the test's own admin client.
func (fx *dlqFixture) committed(t *testing.T) map[string]int64 {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin(fx.env.Brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	parts := []int32{0, 1, 2}
	resp, err := admin.ListConsumerGroupOffsets(fx.grp, map[string][]int32{fx.input: parts, fx.dlqTopic: parts})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, topic := range []string{fx.input, fx.dlqTopic} {
		for _, p := range parts {
			if b := resp.GetBlock(topic, p); b != nil {
				out[fmt.Sprintf("%s/%d", topic, p)] = b.Offset
			}
		}
	}
	return out
}

// readS3Meta returns the "_redrive" object of every output record of topic.
func readS3Meta(t *testing.T, client *s3.Client, bucket, topic string) []pipeline.Meta {
	t.Helper()
	var out []pipeline.Meta
	type line struct {
		Meta pipeline.Meta `json:"_redrive"`
	}
	err := sinks.ReadRecords(context.Background(), client, bucket, "", func(_ string, l line) error {
		if l.Meta.Topic == topic {
			out = append(out, l.Meta)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
