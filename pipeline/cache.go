package pipeline

import (
	"encoding/json"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/metric"
)

// answerCache keeps the API's recent answers: at most size of them, each
// for ttl. It is hashicorp's LRU with the expiry kept beside each answer
// and read from the processor's clock: the library's expirable LRU reads
// the wall clock and runs a purging goroutine that nothing can stop. An
// expired answer is dropped when it is next asked for, or when the LRU
// needs its room, whichever comes first.
type answerCache struct {
	ttl time.Duration
	now func() time.Time
	lru *lru.Cache[string, cachedAnswer]

	hits, misses prometheus.Counter
	evictions    *prometheus.CounterVec
}

type cachedAnswer struct {
	answer  json.RawMessage
	expires time.Time
}

func newAnswerCache(size int, ttl time.Duration, now func() time.Time, reg prometheus.Registerer) *answerCache {
	f := metric.With(reg)
	c := &answerCache{
		ttl: ttl, now: now,
		hits: f.Counter("redrive_enrich_cache_hits_total",
			"Enrichments answered from the cache of API answers (--cache-ttl), without an API call."),
		misses: f.Counter("redrive_enrich_cache_misses_total",
			"Enrichments the cache of API answers could not answer: the API is asked."),
		evictions: f.CounterVec("redrive_enrich_cache_evictions_total",
			"Answers dropped from the cache, by reason: expired (older than --cache-ttl) or size (the least recently used, to make room under --cache-size).",
			"reason"),
	}
	expired, full := c.evictions.WithLabelValues("expired"), c.evictions.WithLabelValues("size")
	// size is validated positive, the only error NewWithEvict returns.
	c.lru, _ = lru.NewWithEvict(size, func(_ string, a cachedAnswer) {
		if !c.now().Before(a.expires) {
			expired.Inc()
		} else {
			full.Inc()
		}
	})
	return c
}

// get returns the answer cached under key, if it has not expired, and
// counts a hit. A record is asked for twice, when it needs the API and
// when a worker takes it; only a worker counts a miss (missed), as it
// then asks the API.
func (c *answerCache) get(key string) (json.RawMessage, bool) {
	a, ok := c.lru.Get(key)
	if ok && !c.now().Before(a.expires) {
		c.lru.Remove(key)
		ok = false
	}
	if !ok {
		return nil, false
	}
	c.hits.Inc()
	return a.answer, true
}

// missed counts an enrichment the cache could not answer: the API is
// asked.
func (c *answerCache) missed() { c.misses.Inc() }

// add caches an answer for the TTL.
func (c *answerCache) add(key string, answer json.RawMessage) {
	c.lru.Add(key, cachedAnswer{answer: answer, expires: c.now().Add(c.ttl)})
}
