package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/sinks"
)

// fakeEnricher answers by the record's "outcome" field: "ok" (default),
// "transient", "permanent", or "block" (waits until its context ends).
type fakeEnricher struct {
	mu    sync.Mutex
	calls int
}

func (f *fakeEnricher) Enrich(ctx context.Context, value []byte, fields map[string]any) (json.RawMessage, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	switch fields["outcome"] {
	case "transient":
		return nil, &enrich.Error{Class: enrich.ClassServer, Status: 503, Err: errors.New("unavailable")}
	case "permanent":
		return nil, &enrich.Error{Class: enrich.ClassClient, Status: 400, Err: errors.New("bad request")}
	case "throttled 30s", "throttled 1h":
		asked := map[any]time.Duration{"throttled 30s": 30 * time.Second, "throttled 1h": time.Hour}[fields["outcome"]]
		return nil, &enrich.Error{Class: enrich.ClassThrottled, Status: 429, Err: errors.New("slow down"), RetryAfter: asked}
	case "block":
		<-ctx.Done()
		return nil, &enrich.Error{Class: enrich.ClassCanceled, Err: ctx.Err()}
	}
	return json.RawMessage(`{"score":1}`), nil
}

func (f *fakeEnricher) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeSink keeps items; with hold set it keeps their Done until release.
type fakeSink struct {
	mu   sync.Mutex
	hold bool
	// duringAdd, when set, runs inside Add before the item is taken, as
	// another goroutine might while an Add is in flight.
	duringAdd func(sinks.Item)
	items     []sinks.Item
	held      []sinks.Item
	flushed   []string
	sealed    []string // "topic/partition" of each Seal call
	atSeal    int      // items added before the last Seal call
}

// Seal records the call; held items stay held until release or a flush.
func (s *fakeSink) Seal(topic string, partition int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = append(s.sealed, fmt.Sprintf("%s/%d", topic, partition))
	s.atSeal = len(s.items)
}

func (s *fakeSink) sealCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sealed)
}

func (s *fakeSink) Add(it sinks.Item) {
	if s.duringAdd != nil {
		s.duringAdd(it)
	}
	// Copied, as the sink copies: the caller reuses the buffers.
	it.Line, it.Tail = append(slices.Clone(it.Line), it.Tail...), nil
	s.mu.Lock()
	s.items = append(s.items, it)
	if s.hold {
		s.held = append(s.held, it)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	it.Done(nil)
}

func (s *fakeSink) FlushPartition(_ context.Context, topic string, _ int32) error {
	s.mu.Lock()
	s.flushed = append(s.flushed, topic)
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, it := range held {
		it.Done(nil)
	}
	return nil
}

// release completes held items in the given order (indices into held).
func (s *fakeSink) release(order []int) {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, i := range order {
		held[i].Done(nil)
	}
}

func (s *fakeSink) lines() []map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]json.RawMessage
	for _, it := range s.items {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(it.Line, &m); err != nil {
			panic(err)
		}
		out = append(out, m)
	}
	return out
}

// forwarded is one record written to the DLQ or parking topic.
type forwarded struct {
	Topic     string
	Partition int32
	Key       string
	Value     string
	Env       dlq.Envelope
	Headers   []dlq.Header // as written: the record's own, then the envelope
}

// fakeForwarder acknowledges every write at once, with the error that
// fail returns for it (nil fail: every write succeeds).
type fakeForwarder struct {
	mu    sync.Mutex
	sent  []forwarded
	tries int
	fail  func(topic string, value []byte, try int) error
}

func (f *fakeForwarder) Forward(topic string, partition int32, key, value []byte, headers []dlq.Header, done func(error)) {
	env, err := dlq.ParseHeaders(headers)
	if err != nil {
		panic(err)
	}
	f.mu.Lock()
	f.tries++
	var ferr error
	if f.fail != nil {
		ferr = f.fail(topic, value, f.tries)
	}
	if ferr == nil {
		f.sent = append(f.sent, forwarded{topic, partition, string(key), string(value), env, headers})
	}
	f.mu.Unlock()
	done(ferr)
}

func (f *fakeForwarder) attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tries
}

func (f *fakeForwarder) to(topic string) []forwarded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []forwarded
	for _, s := range f.sent {
		if s.Topic == topic {
			out = append(out, s)
		}
	}
	return out
}
