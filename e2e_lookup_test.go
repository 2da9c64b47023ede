package redrive_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
	"github.com/redrive-io/redrive/pipeline"
)

// The end-to-end tests of the lookup table (issue 14), through the binary,
// real Kafka and real S3.

// lookupUsers is how many users the records name; the table holds the
// first 80% of them.
const lookupUsers, lookupKnown = 100, 80

func (e *env) profiles() string { return e.prefix + "-profiles" }

// createProfiles creates the compacted table topic, with 3 partitions:
// not the input's 4, so that the table is not keyed like the input.
func (e *env) createProfiles(t *testing.T) {
	t.Helper()
	admin := newAdmin(t, e.brokers)
	defer admin.Close()
	compact := "compact"
	if err := admin.CreateTopic(e.profiles(), &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"cleanup.policy": &compact}}, false); err != nil {
		t.Fatalf("creating %s: %v", e.profiles(), err)
	}
}

// profileValue is user u's table value at version v.
func profileValue(u, v int) string { return fmt.Sprintf(`{"tier":"gold","user":%d,"v":%d}`, u, v) }

// putProfiles writes table records for users, at version v, each to a
// partition chosen by the user's number (not by goka's FNV-32a hash, as a
// Java producer's murmur2 would not), the same partition every time.
func (e *env) putProfiles(t *testing.T, users []int, v int) {
	t.Helper()
	cfg := testSaramaConfig()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer(e.brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var msgs []*sarama.ProducerMessage
	for _, u := range users {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: e.profiles(), Partition: int32(u % 3),
			Key: sarama.StringEncoder(fmt.Sprintf("u%d", u)), Value: sarama.StringEncoder(profileValue(u, v))})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("producing profiles: %v", err)
	}
}

// lookupRecords are n records needing enrichment, ids from first, users
// cycling through lookupUsers (user = id mod lookupUsers).
func lookupRecords(first, n int) []testRecord {
	recs := make([]testRecord, n)
	for i := range recs {
		id := first + i
		recs[i] = testRecord{Key: fmt.Sprintf("k%d", id%13),
			Value: []byte(fmt.Sprintf(`{"id":%d,"category":"X","user_id":"u%d"}`, id, id%lookupUsers))}
	}
	return recs
}

// lookupOutput reads the S3 output by record id.
func (e *env) lookupOutput(t *testing.T) map[int]outputRecord {
	t.Helper()
	_, all := readS3(t, e.client, e.bucket)
	out := map[int]outputRecord{}
	for _, r := range all {
		out[r.ID] = r
	}
	return out
}

// The table holds 80% of the users; the API is down for 60 s mid-stream.
// Every record whose user is in the table reaches S3 during the outage,
// enriched from the table on its first attempt (attempt 0, source table),
// without a DLQ trip; the others cycle through the DLQ and arrive, from
// the API, after the outage; none is lost. A user's table value updated
// mid-stream is used by the records read after the update.
func TestE2E_LookupTableCarriesKnownKeysThroughAnAPIOutage(t *testing.T) {
	// It mostly waits out its API's outage, on topics of its own: it runs
	// beside the other waiting tests, after the ones that stop shared
	// services.
	t.Parallel()
	e := newEnv(t, 1)
	api, apiURL := startAPI(t, mockapi.Config{Latency: 2 * time.Millisecond, Seed: 14})
	e.createTopics(t, 1)
	e.createProfiles(t)
	known := make([]int, lookupKnown)
	for u := range known {
		known[u] = u
	}
	e.putProfiles(t, known, 1)
	want := produce(t, e.brokers, e.topic(), lookupRecords(0, 2000))
	p := e.start(t, e.runArgs(apiURL, "--lookup-topic="+e.profiles(), "--lookup-key=user_id"))
	addr := p.httpAddr()
	e.waitComplete(t, want, 2*time.Minute)
	wait.For(t, 30*time.Second, "/readyz to say 200", func() bool { return status(addr, "/readyz") == http.StatusOK })

	// The update: user 7's value changes. Records of user 7 are produced
	// until one comes out with the new value; every one read after that
	// must carry it.
	e.putProfiles(t, []int{7}, 2)
	afterUpdate := e.waitTableValue(t, want, 7, 2, 2000)

	api.SetDown(true)
	outageStart := time.Now()
	during := lookupRecords(afterUpdate, 2000)
	for o, r := range produce(t, e.brokers, e.topic(), during) {
		want[o] = r
	}
	wait.For(t, 50*time.Second, "the records of known users produced during the outage in S3 while the API is down", func() bool {
		out := e.lookupOutput(t)
		for i := range during {
			id := afterUpdate + i
			if _, ok := out[id]; !ok && id%lookupUsers < lookupKnown {
				return false
			}
		}
		return true
	})
	for time.Since(outageStart) < 60*time.Second {
		mustRun(t, "during the API outage", p)
		time.Sleep(time.Second)
	}
	api.SetDown(false)
	r := e.waitComplete(t, want, 3*time.Minute)
	if len(r.parked) != 0 {
		t.Fatalf("%d records parked, want none", len(r.parked))
	}

	out := e.lookupOutput(t)
	var fromTable, fromAPI, cycled int
	for id, rec := range out {
		u, versions := id%lookupUsers, []int{1}
		switch {
		case id >= 2000 && id < afterUpdate: // the probes of user 7, read around the update
			u, versions = 7, []int{1, 2}
		case u == 7 && id >= afterUpdate:
			versions = []int{2}
		}
		if u >= lookupKnown {
			fromAPI++
			if rec.Meta.Source != pipeline.SourceAPI {
				t.Errorf("record %d (user %d, not in the table): source %q, want api", id, u, rec.Meta.Source)
			}
			if id >= afterUpdate && rec.Meta.Attempt > 0 {
				cycled++
			}
			continue
		}
		fromTable++
		if rec.Meta.Source != pipeline.SourceTable || rec.Meta.Attempt != 0 || !slices.ContainsFunc(versions, func(v int) bool { return string(rec.Enriched) == profileValue(u, v) }) {
			t.Errorf("record %d (user %d, in the table): source %q, attempt %d, enrichment %s; want table, 0, version %v",
				id, u, rec.Meta.Source, rec.Meta.Attempt, rec.Enriched, versions)
		}
	}
	if cycled == 0 {
		t.Error("no record of an unknown user went around the DLQ during the outage")
	}
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.tail(20))
	}
	t.Logf("%d records: %d from the table, %d from the API; %d cycled through the DLQ during the 60 s outage; %d duplicates; API requests %d",
		len(want), fromTable, fromAPI, cycled, r.duplicates, api.Stats().Requests)
	if strings.Contains(p.tail(400), `"msg":"lookup table view lost`) {
		t.Error("the table's view was lost although Kafka stayed up")
	}
}

// waitTableValue produces records of user u until one comes out enriched
// from the table with version v, so that the update is known to have been
// applied; it returns the next free id.
func (e *env) waitTableValue(t *testing.T, want produced, u, v, next int) int {
	t.Helper()
	first := next
	wait.For(t, 2*time.Minute, fmt.Sprintf("a record of user %d enriched with version %d", u, v), func() bool {
		for id, r := range e.lookupOutput(t) {
			if id >= first && r.Meta.Source == pipeline.SourceTable && string(r.Enriched) == profileValue(u, v) {
				return true
			}
		}
		rec := testRecord{Key: "k", Value: []byte(fmt.Sprintf(`{"id":%d,"category":"X","user_id":"u%d"}`, next, u))}
		for o, r := range produce(t, e.brokers, e.topic(), []testRecord{rec}) {
			want[o] = r
		}
		next++
		return false
	})
	return next
}

// The only broker stops for 20 s and starts again: the table's view,
// whose goka Run ends on the fault, is rebuilt by its supervisor (invariant
// 8): the process stays up, /readyz is 503 meanwhile and 200 again after,
// and a table update made after the restart reaches the records.
func TestE2E_Invariant8_LookupTableViewSurvivesABrokerRestart(t *testing.T) {
	e := newBrokerStopEnv(t)
	_, apiURL := startAPI(t, mockapi.Config{Latency: 2 * time.Millisecond, Seed: 15})
	e.createTopics(t, 1)
	e.createProfiles(t)
	e.putProfiles(t, []int{1, 2, 3}, 1)
	want := produce(t, e.brokers, e.topic(), lookupRecords(0, 300))
	p := e.start(t, e.runArgs(apiURL, "--lookup-topic="+e.profiles(), "--lookup-key=user_id"))
	addr := p.httpAddr()
	e.waitComplete(t, want, 2*time.Minute)
	wait.For(t, 30*time.Second, "/readyz to say 200", func() bool { return status(addr, "/readyz") == http.StatusOK })

	e.stopOnlyBroker(t, p, addr, 20*time.Second)
	wait.For(t, 3*time.Minute, "/readyz to say 200 again", func() bool { return status(addr, "/readyz") == http.StatusOK })
	mustRun(t, "after the broker came back", p)
	if log := p.tail(5000); !strings.Contains(log, `"msg":"lookup table view lost`) || !strings.Contains(log, `"msg":"lookup table view rebuilt and caught up"`) {
		t.Errorf("the log does not say that the table's view was lost and rebuilt")
	}

	e.putProfiles(t, []int{2}, 2)
	e.waitTableValue(t, want, 2, 2, 300)
	e.waitComplete(t, want, 2*time.Minute)
	if err := p.term(40 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.tail(20))
	}
}
