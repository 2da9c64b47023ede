package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/IBM/sarama"
)

// tableResult is workload t: records of which half need enrichment, as in
// workload 2, but with a lookup table holding nine in ten users, so that
// nine in ten of the matching records are enriched from the table, and
// the API's answers for the others are cached. Measured like workload 1.
type tableResult struct {
	Records    int        `json:"records"`
	Matching   int        `json:"matching"`
	TableKeys  int        `json:"table_keys"`
	Redrive    runFigures `json:"redrive"`
	APICalls   int64      `json:"api_calls"`
	CallsPer1k float64    `json:"api_calls_per_1000_records"`
	// PassThroughRate is workload 1's redrive, when it ran in the same
	// invocation; EnrichCallsPer1k is workload 2's API calls per 1,000
	// records (every matching record calls the API there).
	PassThroughRate  float64 `json:"pass_through_records_per_sec,omitempty"`
	EnrichCallsPer1k float64 `json:"enrichment_api_calls_per_1000_records"`
}

// tableUsers is how many distinct users the records name (recordGen's
// user_id is the record's index modulo this).
const tableUsers = 100003

// tableHolds says whether workload t's table holds a user: all but the
// multiples of 10.
func tableHolds(user int) bool { return user%10 != 0 }

func (b *bench) table(ctx context.Context) error {
	n := b.sz.PassRecords
	topic, tableTopic := "wt-lookup", "wt-profiles"
	res := &tableResult{Records: n, Matching: countEnriched(n, 0.5)}
	b.res.Table = res
	var err error
	if res.TableKeys, err = b.fillTable(ctx, tableTopic); err != nil {
		return err
	}
	in, err := b.seedAndServe(ctx, topic, n, 0.5, 3)
	if err != nil {
		return err
	}
	hw, api := in.hw, in.api
	defer api.Close()
	res.Redrive, err = b.passRedrive(ctx, "wt-redrive", topic, "wt", n, hw, api.URL,
		"--lookup-topic", tableTopic, "--lookup-key", "user_id", "--cache-ttl", "10m", "--cache-size", "100000",
		"--enrich-concurrency", strconv.Itoa(b.sz.Concurrency))
	if err != nil {
		return err
	}
	res.APICalls = api.Stats().Requests
	res.CallsPer1k = float64(res.APICalls) / float64(n) * 1000
	res.EnrichCallsPer1k = float64(countEnriched(b.sz.EnrichRecords, 0.5)) / float64(b.sz.EnrichRecords) * 1000
	r := res.Redrive
	if b.res.PassThrough != nil {
		res.PassThroughRate = b.res.PassThrough.Redrive.RecordsPerSec
	}
	ref, ok := "run with -only 1,t", (*bool)(nil)
	if res.PassThroughRate > 0 {
		ref, ok = fnum(res.PassThroughRate)+" pass-through (workload 1)", check(r.RecordsPerSec >= 0.8*res.PassThroughRate)
	}
	b.res.add("t lookup table", fmt.Sprintf("records/s (%dk, half matching, 90%% of those in the table of %dk keys)", n/1000, res.TableKeys/1000),
		fnum(r.RecordsPerSec), ref, fratio(r.RecordsPerSec, res.PassThroughRate), "≥ 0.8", ok)
	b.res.add("t lookup table", "API calls per 1,000 records (misses, answers cached)",
		fnum(res.CallsPer1k), fnum(res.EnrichCallsPer1k)+" enrichment (workload 2)", fratio(res.CallsPer1k, res.EnrichCallsPer1k), "", nil)
	b.res.add("t lookup table", "CPU s per 1M records, peak RSS MiB", fmt.Sprintf("%s, %s", fnum(r.CPUSecPerMillion), fnum(r.PeakRSSMiB)), "", "", "", nil)
	return nil
}

// fillTable creates the compacted table topic and writes a value for every
// user the table holds; it returns how many.
func (b *bench) fillTable(ctx context.Context, topic string) (int, error) {
	compact := "compact"
	if err := b.kafka.CreateTopic(ctx, topic, b.sz.Partitions, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return 0, err
	}
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(b.svc.Brokers, cfg)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	b.log.Info("filling the lookup table", "topic", topic, "users", tableUsers)
	keys := 0
	var msgs []*sarama.ProducerMessage
	for u := range tableUsers {
		if !tableHolds(u) {
			continue
		}
		keys++
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(strconv.Itoa(u)),
			Value: sarama.StringEncoder(fmt.Sprintf(`{"segment":"regular","lifetime_orders":%d,"tier":"gold"}`, u%97))})
		if len(msgs) == 5000 {
			if err := p.SendMessages(msgs); err != nil {
				return 0, fmt.Errorf("filling %s: %w", topic, err)
			}
			msgs = msgs[:0]
		}
	}
	if len(msgs) > 0 {
		if err := p.SendMessages(msgs); err != nil {
			return 0, fmt.Errorf("filling %s: %w", topic, err)
		}
	}
	return keys, ctx.Err()
}
