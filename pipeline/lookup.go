package pipeline

import (
	"encoding/json"
	"fmt"
)

// Where an output record's enrichment came from (_redrive.source).
const (
	SourceTable = "table" // the lookup table held the record's key
	SourceAPI   = "api"   // the API answered
	SourceCache = "cache" // an earlier API answer, kept by --cache-ttl
)

// What a record the lookup table lacks becomes (Config.LookupMiss).
const (
	LookupMissAPI   = "api"   // ask the API (through the cache, if any)
	LookupMissRetry = "retry" // transient: around the DLQ, the table may catch up
	LookupMissPass  = "pass"  // written unenriched, _redrive.lookup_miss true
)

// ClassLookupMiss is the DLQ error class of a record sent around by
// --lookup-miss retry. It is transient: the record is looked up again
// when due, and parked as exhausted or expired like an API failure.
const ClassLookupMiss = "lookup_miss"

// TableReader answers lookups by key (*Table).
type TableReader interface {
	Get(key string) (value json.RawMessage, found bool, err error)
}

// Keyer computes a record's lookup key from its decoded fields
// (enrich.Key).
type Keyer interface {
	Of(fields map[string]any) (key string, ok bool, err error)
	Fields() (names []string, all bool)
}

// requestKeyer is implemented by enrichers that can name the request a
// record would make (enrich.Client): the cache's key without a lookup key.
type requestKeyer interface {
	RequestKey(value []byte, fields map[string]any) (string, error)
}

// enrich enriches a record that needs it: from the lookup table when it
// holds the record's key, then per LookupMiss, then from the cache of API
// answers, then through the API (queued for a worker). Lookups in the
// table and the cache are reads of memory (or of LevelDB's cache), quick
// enough for goka's callback; only API calls are handed off.
func (p *Processor) enrich(rec *record) {
	if p.deps.Table == nil && p.cache == nil {
		p.work.push(rec)
		return
	}
	key, hasKey, err := p.lookupKey(rec)
	if err != nil {
		p.park(rec, ClassRuleError, err)
		return
	}
	if p.deps.Table != nil {
		if hasKey {
			answer, found, err := p.deps.Table.Get(key)
			if err != nil {
				// A storage that fails to read (a LevelDB error) is
				// handled as a miss: the record still has a way on.
				if ok, suppressed := p.parkLog.allow("table_error"); ok {
					p.log.Warn("lookup table read failed; handled as a miss", "key", key, "err", err, "same_error_not_logged", suppressed)
				}
			}
			if found {
				p.metrics.tableHits.Inc()
				rec.source = SourceTable
				p.stats.fromTable.Add(1)
				p.toSink(rec, answer)
				return
			}
		}
		p.metrics.tableMisses.Inc()
		switch p.cfg.LookupMiss {
		case LookupMissRetry:
			p.toDLQ(rec, ClassLookupMiss, fmt.Errorf("the lookup table has no key %q (yet)", key))
			return
		case LookupMissPass:
			rec.lookupMiss = true
			p.toSink(rec, nil)
			return
		}
	}
	if p.cache != nil {
		if !hasKey {
			if key, err = p.requestKey(rec); err != nil {
				// The API would refuse the record the same way (a URL
				// placeholder it lacks): let the API call say so.
				p.work.push(rec)
				return
			}
		}
		if answer, ok := p.cache.get(key); ok {
			p.fromCache(rec, answer)
			return
		}
		rec.cacheKey = key // callAPI asks the cache again before the API
	}
	p.work.push(rec)
}

// fromCache writes a record enriched with a cached answer.
func (p *Processor) fromCache(rec *record, answer json.RawMessage) {
	rec.source = SourceCache
	p.stats.fromCache.Add(1)
	p.toSink(rec, answer)
}

// lookupKey computes a record's lookup key, decoding only the fields the
// key reads. ok is false when there is no Keyer or the record has no key.
func (p *Processor) lookupKey(rec *record) (key string, ok bool, err error) {
	if p.deps.Key == nil {
		return "", false, nil
	}
	if rec.keyKnown {
		return rec.lookupKey, rec.hasKey, nil
	}
	var fields map[string]any
	if p.keyNames == nil {
		fields, err = decodeFields(rec.value)
	} else {
		fields, err = pickFields(rec.value, p.keyNames)
	}
	if err != nil {
		return "", false, err
	}
	return p.deps.Key.Of(fields)
}

// requestKey names the request the API would get for rec.
func (p *Processor) requestKey(rec *record) (string, error) {
	rk, ok := p.deps.Enricher.(requestKeyer)
	if !ok {
		return string(rec.value), nil
	}
	var fields map[string]any
	if p.enricherNeedsFields {
		var err error
		if fields, err = decodeFields(rec.value); err != nil {
			return "", err
		}
	}
	return rk.RequestKey(rec.value, fields)
}
