package pipeline

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/fakeclock"
	"github.com/redrive-io/redrive/internal/wait"
)

// cacheRig runs the processor with a real enrichment client against the
// mock API, whose request count is what the cache saves.
func cacheRig(t *testing.T, key string) (*mockapi.Server, *fakeSink, *fakeclock.Clock, func(string)) {
	t.Helper()
	api := mockapi.New(mockapi.Config{})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client, err := enrich.New(enrich.Config{URL: srv.URL + "/enrich"})
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC))
	cfg := testConfig()
	cfg.CacheTTL, cfg.CacheSize = time.Minute, 100
	sink := &fakeSink{}
	deps := Deps{Matcher: rule(t), Enricher: client, Sink: sink, Forwarder: &fakeForwarder{}, Now: clock.Now}
	if key != "" {
		k, err := enrich.CompileKey(key)
		if err != nil {
			t.Fatal(err)
		}
		deps.Key = k
	}
	tt, _ := runWithTester(t, cfg, deps)
	return api, sink, clock, func(v string) { tt.Consume("in", "k", []byte(v)) }
}

// Repeated keys make one API call per key per TTL: later records of the
// key are answered from the cache (_redrive.source "cache") until the TTL
// has passed on the processor's clock.
func TestCache_OneAPICallPerKeyPerTTL(t *testing.T) {
	api, sink, clock, consume := cacheRig(t, "user_id")
	for round := 0; round < 2; round++ {
		for i := 0; i < 30; i++ {
			consume(fmt.Sprintf(`{"category":"X","user_id":"u%d","n":%d}`, i%3, i))
		}
		if got, want := api.Stats().Requests, int64(3*(round+1)); got != want {
			t.Fatalf("round %d: the mock API got %d requests, want %d (one per key per TTL)", round+1, got, want)
		}
		clock.Advance(time.Minute) // every answer expires
	}
	sources := sourcesOf(t, sink)
	if sources[SourceAPI] != 6 || sources[SourceCache] != 54 {
		t.Fatalf("sources %v, want 6 api and 54 cache", sources)
	}
}

// Without a lookup key the cache keys on the request the API would get:
// identical records share an answer, different ones do not.
func TestCache_WithoutAKeyTheRequestIsTheKey(t *testing.T) {
	api, _, _, consume := cacheRig(t, "")
	for i := 0; i < 10; i++ {
		consume(`{"category":"X","user_id":"same"}`)
	}
	consume(`{"category":"X","user_id":"other"}`)
	if got := api.Stats().Requests; got != 2 {
		t.Fatalf("the mock API got %d requests, want 2", got)
	}
}

// Beyond --cache-size the least recently used answer goes, and its key
// asks the API again.
func TestCache_SizeEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := newAnswerCache(2, time.Minute, fakeclock.New(time.Now()).Now, nil)
	c.add("a", []byte(`1`))
	c.add("b", []byte(`2`))
	c.get("a")
	c.add("c", []byte(`3`))
	if _, ok := c.get("b"); ok {
		t.Fatal("b, the least recently used, is still cached")
	}
	if _, ok := c.get("a"); !ok {
		t.Fatal("a was evicted although it was used last")
	}
}

// A record whose key missed the cache waits for an API worker; if a call
// for the same key, queued before it, has answered by then, the worker
// takes the cached answer instead of asking the API again. While the
// cache is cold those repeats were a third of the calls.
func TestCache_QueuedRecordTakesTheAnswerOfAnEarlierCall(t *testing.T) {
	cfg := testConfig()
	cfg.CacheTTL, cfg.CacheSize, cfg.EnrichWorkers = time.Minute, 100, 1
	enr := &gatedEnricher{gate: make(chan struct{})}
	key, err := enrich.CompileKey("user_id")
	if err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{}
	h := newHarness(t, cfg, Deps{Matcher: rule(t), Enricher: enr, Key: key, Sink: sink, Forwarder: &fakeForwarder{}})
	for i := range 5 {
		h.consume("in", "k", []byte(fmt.Sprintf(`{"category":"X","user_id":"u1","n":%d}`, i)), nil)
	}
	wait.For(t, 5*time.Second, "the first call to reach the API", func() bool { return enr.current() == 1 })
	close(enr.gate)
	wait.For(t, 5*time.Second, "every record in the sink", func() bool { return len(sink.lines()) == 5 })
	sources := sourcesOf(t, sink)
	if sources[SourceAPI] != 1 || sources[SourceCache] != 4 {
		t.Fatalf("sources %v, want one answer from the API and four from the cache", sources)
	}
}

// sourcesOf counts the sink's lines by _redrive.source.
func sourcesOf(t *testing.T, sink *fakeSink) map[string]int {
	t.Helper()
	sources := map[string]int{}
	for _, l := range sink.lines() {
		var m Meta
		if err := json.Unmarshal(l[MetaField], &m); err != nil {
			t.Fatal(err)
		}
		sources[m.Source]++
	}
	return sources
}
