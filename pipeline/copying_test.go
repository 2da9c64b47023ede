package pipeline

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/wait"
)

// messagesClaim is a fakeClaim whose messages the test feeds.
type messagesClaim struct {
	*fakeClaim
	msgs chan *sarama.ConsumerMessage
}

func (c messagesClaim) Messages() <-chan *sarama.ConsumerMessage { return c.msgs }

// holdingHandler stands in for goka: it keeps every message it is handed,
// as goka keeps each until its commit, and lets the test take the values
// while the claim lasts, as the processor's callback does.
type holdingHandler struct {
	nopHandler
	got    chan *sarama.ConsumerMessage
	during func()
}

func (h holdingHandler) ConsumeClaim(_ sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.got <- m
	}
	h.during()
	return nil
}

// claimsSession is a session whose claims the test names.
type claimsSession struct {
	sarama.ConsumerGroupSession
	claims map[string][]int32
}

func (s claimsSession) Claims() map[string][]int32 { return s.claims }

// copyingGroup keeps values out of goka's hands. Its interceptor, which
// sarama calls on each message before handing it on, moves the value into
// the store the session's Setup opened: goka's messages carry the
// stand-in (a tombstone keeps its nil; a record's own empty value is held
// like any other, and told from the stand-in), the processor takes each value once, as sarama fetched it, and
// a second call for the same message (sarama makes one when a hand-off
// times out) leaves the held value alone. A value stays takeable after its
// claim ended (goka may deliver what it queued) until the session's
// Cleanup drops it, an old claim's end never drops a newer claim's values,
// and a message of a claim without a store (added after Setup) is left as
// it is.
func TestCopyingGroupHoldsValuesOutsideGoka(t *testing.T) {
	store := &valueStore{}
	lag := &lagReporter{offsets: &fakeOffsets{}, gauges: newMetrics(prometheus.NewRegistry()).lag, interval: time.Hour}
	got := make(chan *sarama.ConsumerMessage, 5)
	var taken []byte
	fetched := []byte(`{"a":1}{"b":2}`) // one buffer, as sarama's fetch
	h := &copyingHandler{lag: lag, values: store, ConsumerGroupHandler: holdingHandler{got: got, during: func() {
		var ok bool
		taken, ok = store.take("in", 3, 0)
		if !ok || string(taken) != `{"a":1}` || &taken[0] != &fetched[0] {
			t.Errorf("take offset 0 = %q, %v; want the value, uncopied", taken, ok)
		}
		if _, ok := store.take("in", 3, 0); ok {
			t.Error("a value was taken twice")
		}
	}}}
	if err := h.Setup(claimsSession{claims: map[string][]int32{"in": {3}}}); err != nil {
		t.Fatal(err)
	}
	intercept := holdingInterceptor{store}
	claim := messagesClaim{&fakeClaim{initial: 0}, make(chan *sarama.ConsumerMessage, 5)}
	msgs := []*sarama.ConsumerMessage{
		{Topic: "in", Partition: 3, Offset: 0, Key: []byte("k"), Value: fetched[:7]},
		{Topic: "in", Partition: 3, Offset: 1, Value: fetched[7:]},
		{Topic: "in", Partition: 3, Offset: 2, Value: nil},
		{Topic: "in", Partition: 3, Offset: 3, Value: []byte{}},
	}
	for _, m := range msgs {
		intercept.OnConsume(m)
		claim.msgs <- m
	}
	intercept.OnConsume(msgs[0]) // again, as sarama may when a hand-off times out
	close(claim.msgs)
	if err := h.ConsumeClaim(nil, claim); err != nil {
		t.Fatal(err)
	}
	close(got)
	var values [][]byte
	for m := range got {
		values = append(values, m.Value)
	}
	if len(values) != 4 || !isStandIn(values[0]) || !isStandIn(values[1]) || values[2] != nil || !isStandIn(values[3]) {
		t.Fatalf("goka saw values %q, want stand-ins and the tombstone's nil", values)
	}
	if v, ok := store.take("in", 3, 3); !ok || v == nil || len(v) != 0 || isStandIn(v) {
		t.Fatalf("take offset 3 = %#v, %v; want the record's own empty value", v, ok)
	}
	if v, ok := store.take("in", 3, 1); !ok || string(v) != `{"b":2}` {
		t.Fatalf("after the claim, before Cleanup: take offset 1 = %q, %v", v, ok)
	}
	other := &sarama.ConsumerMessage{Topic: "in", Partition: 4, Offset: 0, Value: []byte(`{"c":3}`)}
	if intercept.OnConsume(other); string(other.Value) != `{"c":3}` {
		t.Fatalf("a message of a claim without a store was changed: %q", other.Value)
	}
	if err := h.Cleanup(nil); err != nil {
		t.Fatal(err)
	}
	if v, ok := store.take("in", 3, 1); ok {
		t.Fatalf("after Cleanup take gives %q", v)
	}

	// An old claim's end does not drop a newer claim's values.
	tp := topicPartition{"in", 3}
	old := store.open(tp)
	newer := store.open(tp)
	newer.put(5, []byte("v"))
	store.close(tp, old)
	if v, ok := store.take("in", 3, 5); !ok || string(v) != "v" {
		t.Fatalf("take from the newer claim = %q, %v", v, ok)
	}
}

// The processor takes each value from the store, writes its line to the
// sink, and lets go uncommitted a record whose session was
// cleaned up before goka delivered it (its value went with it): never
// written empty, never committed.
func TestConsumeTakesValuesFromTheStore(t *testing.T) {
	sink := &fakeSink{}
	h := newHarness(t, testConfig(), Deps{Sink: sink, Forwarder: &fakeForwarder{}})
	h.p.values = &valueStore{}
	tp := topicPartition{"in", 0}
	held := h.p.values.open(tp)
	held.put(0, []byte(`{"id":0}`))
	h.consume("in", "k", emptyValue, nil) // offset 0: held
	h.p.values.close(tp, held)
	h.consume("in", "k", emptyValue, nil) // offset 1: its session was cleaned up
	lines := sink.lines()
	if len(lines) != 1 || string(lines[0]["id"]) != "0" {
		t.Fatalf("sink lines %v, want offset 0's only", lines)
	}
	wait.For(t, 5*time.Second, "offset 0 committed and offset 1 let go", func() bool {
		h.commits.mu.Lock()
		defer h.commits.mu.Unlock()
		return len(h.commits.released["in"]) == 1 && h.commits.errs == 1
	})
	if got := h.p.stats.letGo.Load(); got != 1 {
		t.Fatalf("%d records let go, want 1", got)
	}
}

// keepingForwarder keeps the value slices it is handed, as the producer
// keeps each until Kafka acknowledges it.
type keepingForwarder struct {
	mu     sync.Mutex
	values [][]byte
}

func (f *keepingForwarder) Forward(_ string, _ int32, _, value []byte, _ []dlq.Header, done func(error)) {
	f.mu.Lock()
	f.values = append(f.values, value)
	f.mu.Unlock()
	done(nil)
}

// A record that waits (for an API worker, or for Kafka to take its DLQ or
// parking write) owns a copy of its value, so that it keeps no fetch
// buffer alive; a record written to the sink at once is copied by the
// sink alone. Overwriting the fetch buffer after the callbacks shows which
// bytes each kept.
func TestRecordsThatWaitOwnTheirValues(t *testing.T) {
	sink := &fakeSink{}
	fwd := &keepingForwarder{}
	enr := &gatedEnricher{gate: make(chan struct{})}
	h := newHarness(t, testConfig(), Deps{Matcher: rule(t), Enricher: enr, Sink: sink, Forwarder: fwd})
	h.p.values = &valueStore{}
	held := h.p.values.open(topicPartition{"in", 0})
	values := []string{`{"id":0,"category":"X"}`, `{"id":1,"category":"Y"}`, `{"id":2,`}
	fetch := []byte(strings.Join(values, ""))
	for off, rest := 0, fetch; off < len(values); off++ {
		held.put(int64(off), rest[:len(values[off])])
		rest = rest[len(values[off]):]
		h.consume("in", "k", emptyValue, nil)
	}
	wait.For(t, 5*time.Second, "the matching record to reach the API", func() bool { return enr.current() == 1 })
	for i := range fetch {
		fetch[i] = ' '
	}
	close(enr.gate)
	wait.For(t, 5*time.Second, "both lines in the sink", func() bool { return len(sink.lines()) == 2 })
	ids := map[string]bool{}
	for _, l := range sink.lines() {
		ids[string(l["id"])] = true
	}
	if !ids["0"] || !ids["1"] {
		t.Fatalf("sink ids %v, want 0 (enriched after the fetch was overwritten) and 1", ids)
	}
	fwd.mu.Lock()
	defer fwd.mu.Unlock()
	if len(fwd.values) != 1 || string(fwd.values[0]) != values[2] {
		t.Fatalf("parked values %q, want the malformed record's own copy %q", fwd.values, values[2])
	}
}

// goka decodes every record's value with valueCodec: the empty value that
// stands for a held one decodes to an empty, non-nil slice without an
// allocation (one per record with codec.Bytes); others as codec.Bytes does.
func TestValueCodecDecodesTheHeldValuesStandInForFree(t *testing.T) {
	c := new(valueCodec)
	if allocs := testing.AllocsPerRun(100, func() { _, _ = c.Decode(emptyValue) }); allocs != 0 {
		t.Fatalf("decoding the empty value allocates %v times", allocs)
	}
	for _, in := range [][]byte{emptyValue, nil, []byte(`{"a":1}`)} {
		got, err := c.Decode(in)
		b, _ := got.([]byte)
		if err != nil || string(b) != string(in) || (b == nil) != (in == nil) {
			t.Fatalf("Decode(%q) = %#v, %v", in, got, err)
		}
	}
}
