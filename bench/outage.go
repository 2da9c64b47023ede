package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/ctxwait"
)

// outageResult is workload 3: the API is down for a while in the middle of
// a steady flow, half of which needs enrichment.
type outageResult struct {
	OutageSeconds float64 `json:"outage_seconds"`
	Rate          int     `json:"produce_rate_per_sec"`
	Produced      int     `json:"produced"`
	RetryFlags    string  `json:"retry_flags"`
	// IdealCycles is Policy.CyclesFor(outage) for the retry flags: the DLQ
	// writes of a record that failed as the outage began, without jitter.
	IdealCycles int `json:"ideal_cycles"`
	// DLQWrites is every record written to the DLQ topic; Failed the
	// distinct input records among them.
	DLQWrites      int64   `json:"dlq_writes"`
	Failed         int     `json:"failed_records"`
	CyclesPerFail  float64 `json:"dlq_writes_per_failed_record"`
	MeanIdealEach  float64 `json:"mean_ideal_per_record"` // CyclesFor(outage end − the record's first failure), averaged
	EarlyRecords   int     `json:"early_records"`         // failed in the outage's first 2 s
	EarlyCycles    float64 `json:"early_dlq_writes_per_record"`
	MaxExcess      int     `json:"max_excess_over_own_ideal"`
	OverIdealPlus2 int     `json:"records_over_own_ideal_plus_2"`
	// RequestsWhileDown are the requests the API answered 503 for the
	// outage: with the breaker open, few should arrive.
	RequestsWhileDown int64 `json:"requests_while_down"`
	// Lost are produced records found neither in S3 nor in parking;
	// Duplicates the extra copies in S3 (allowed, identified by origin).
	InS3       int `json:"in_s3"`
	Parked     int `json:"parked"`
	Lost       int `json:"lost"`
	Duplicates int `json:"duplicates"`
	// DrainSeconds is from the API's return to the group having committed
	// the input and DLQ topics up to their high-water marks (every record
	// durable in S3). DrainTarget is 2 × Failed / the enrichment rate, and
	// PolicyFloor the latest not-before time among the final DLQ writes
	// after the return: no drain can be faster without retrying early.
	DrainSeconds float64 `json:"drain_seconds"`
	DrainTarget  float64 `json:"drain_target_seconds"`
	EnrichRate   float64 `json:"enrich_rate_per_sec"`
	PolicyFloor  float64 `json:"policy_floor_seconds"`
	// AfterReturn counts the DLQ writes made after the API was back, by
	// error class: "breaker_open" ones are failures the breaker caused
	// while it waited out --breaker-open-for.
	AfterReturn   map[string]int `json:"dlq_writes_after_return_by_class"`
	PeakRSSMiB    float64        `json:"peak_rss_mib"`
	RedriveLog    string         `json:"log"`
	StoppedWithin float64        `json:"stop_seconds"`
}

// outagePolicy is the retry policy the outage run passes as flags, so
// that the ideal is computed for exactly what redrive ran with.
func outagePolicy() dlq.Policy {
	p := dlq.Policy{Base: time.Second, MaxDelay: 15 * time.Minute, MaxAttempts: 20, MaxAge: 24 * time.Hour}
	p.SetDefaults()
	return p
}

func (b *bench) outage(ctx context.Context) error {
	topic := "w3-outage"
	if err := b.createTopics(ctx, topic); err != nil {
		return err
	}
	pol := outagePolicy()
	res := &outageResult{
		OutageSeconds: b.sz.Outage.Seconds(), Rate: b.sz.OutageRate,
		IdealCycles: pol.CyclesFor(b.sz.Outage),
		RetryFlags:  fmt.Sprintf("--retry-base %s --retry-max-delay %s --max-attempts %d --max-age %s", pol.Base, pol.MaxDelay, pol.MaxAttempts, pol.MaxAge),
	}
	b.res.Outage = res
	api, err := startAPI(mockapi.Config{Latency: b.sz.Latency, Seed: 3})
	if err != nil {
		return err
	}
	defer api.Close()
	group := "bench-w3-redrive"
	// Batches are sealed after 2 s instead of 30 s, so that "drained"
	// (everything durable in S3) is not dominated by the batch age.
	p, err := b.startRedrive("w3-redrive", topic, group, "w3",
		"--enrich-when", enrichRule, "--enrich-url", api.URL, "--enrich-concurrency", strconv.Itoa(b.sz.Concurrency),
		"--batch-max-age", "2s",
		"--retry-base", pol.Base.String(), "--retry-max-delay", pol.MaxDelay.String(),
		"--max-attempts", strconv.Itoa(pol.MaxAttempts), "--max-age", pol.MaxAge.String())
	if err != nil {
		return err
	}
	defer p.Kill()
	res.RedriveLog = p.log
	if _, _, err := b.waitStable(ctx, p.proc, group); err != nil {
		return err
	}

	// Flow, outage, return; production stops at the return so that the
	// drain has a fixed amount of work.
	flow := startPaced(ctx, b.svc.Brokers, topic, b.sz.Partitions, newRecordGen(b.sz.RecordBytes), 0.5, b.sz.OutageRate)
	defer flow.Stop() //nolint:errcheck // on the error path only
	if err := ctxwait.Sleep(ctx, b.sz.OutageLead); err != nil {
		return err
	}
	b.log.Info("w3: API down", "for", b.sz.Outage)
	api.SetDown(true)
	downAt := time.Now()
	downBefore := api.Stats().Outage
	sleepErr := ctxwait.Sleep(ctx, b.sz.Outage)
	api.SetDown(false)
	upAt := time.Now()
	res.RequestsWhileDown = api.Stats().Outage - downBefore
	b.log.Info("w3: API back", "was_down", upAt.Sub(downAt).Round(time.Millisecond))
	n, produceErr := flow.Stop()
	if err := errors.Join(sleepErr, produceErr); err != nil {
		return err
	}
	res.Produced = n

	drained, err := b.waitCaughtUp(ctx, p.proc, 10*time.Minute, group, topic, topic+".dlq")
	if err != nil {
		return err
	}
	res.DrainSeconds = drained.Sub(upAt).Seconds()
	if res.StoppedWithin, res.PeakRSSMiB, err = p.stopMeasured(time.Minute); err != nil {
		return err
	}
	if err := b.outageAccount(ctx, topic, res, pol, downAt, upAt); err != nil {
		return err
	}

	rate := b.enrichIdeal
	rateSrc := "measured in workload 2"
	if rate == 0 {
		rate = float64(b.sz.Concurrency) / b.sz.Latency.Seconds()
		rateSrc = "nominal C/latency"
	}
	res.EnrichRate = rate
	res.DrainTarget = 2 * float64(res.Failed) / rate
	b.res.add("3 outage", fmt.Sprintf("DLQ writes per failed record, API down %s (%d failed)", b.sz.Outage, res.Failed),
		fmt.Sprintf("%.2f mean; %.2f for the %d failed in the first 2 s", res.CyclesPerFail, res.EarlyCycles, res.EarlyRecords),
		fmt.Sprintf("%d = CyclesFor(%s); %.2f mean of each record's own", res.IdealCycles, b.sz.Outage, res.MeanIdealEach),
		fmt.Sprintf("%.2f", res.EarlyCycles/float64(res.IdealCycles)),
		"≤ ideal+2 per record", check(res.OverIdealPlus2 == 0 && res.Failed > 0))
	b.res.add("3 outage", "records over their own ideal+2 / worst excess", fmt.Sprintf("%d / +%d", res.OverIdealPlus2, res.MaxExcess), "", "", "0", check(res.OverIdealPlus2 == 0))
	b.res.add("3 outage", "DLQ writes after the API was back, by class", fmt.Sprint(res.AfterReturn), "", "", "", nil)
	b.res.add("3 outage", "API requests while down (breaker open)", strconv.FormatInt(res.RequestsWhileDown, 10), fmt.Sprintf("%d records failed", res.Failed), "", "", nil)
	b.res.add("3 outage", fmt.Sprintf("records lost (of %d; S3 + parking, deduped on origin)", res.Produced), strconv.Itoa(res.Lost),
		fmt.Sprintf("%d duplicates in S3", res.Duplicates), "", "0", check(res.Lost == 0))
	b.res.add("3 outage", "drain: API back → DLQ committed, all in S3 (s)", fnum(res.DrainSeconds),
		fmt.Sprintf("%s = 2×%d/%.0f per s (%s); backoff floor %.1f", fnum(res.DrainTarget), res.Failed, rate, rateSrc, res.PolicyFloor),
		fratio(res.DrainSeconds, res.DrainTarget), "≤ 1", check(res.DrainSeconds <= res.DrainTarget))
	return nil
}

// outageAccount reads the DLQ, the parking topic and S3 back and fills in
// the cycle, loss and floor figures.
func (b *bench) outageAccount(ctx context.Context, topic string, res *outageResult, pol dlq.Policy, downAt, upAt time.Time) error {
	type failure struct {
		writes     int
		first      time.Time
		lastNB     time.Time
		maxAttempt int
	}
	failed := map[originKey]*failure{}
	dlqHW, err := b.kafka.HighWater(topic + ".dlq")
	if err != nil {
		return err
	}
	res.DLQWrites = sumOffsets(dlqHW)
	res.AfterReturn = map[string]int{}
	err = readTopic(ctx, b.svc.Brokers, topic+".dlq", dlqHW, func(r *kgo.Record) {
		env, err := envelopeOf(r)
		if err != nil {
			return
		}
		k := originKey{env.Origin.Topic, env.Origin.Partition, env.Origin.Offset}
		f := failed[k]
		if f == nil {
			f = &failure{first: env.FirstFailure}
			failed[k] = f
		}
		f.writes++
		if r.Timestamp.After(upAt) {
			res.AfterReturn[env.ErrorClass]++
		}
		if env.Attempt > f.maxAttempt {
			f.maxAttempt, f.lastNB = env.Attempt, env.NotBefore
		}
	})
	if err != nil {
		return err
	}
	res.Failed = len(failed)
	var ideals, early, earlyWrites int
	for _, f := range failed {
		own := pol.CyclesFor(upAt.Sub(f.first))
		own = max(own, 1)
		ideals += own
		res.MaxExcess = max(res.MaxExcess, f.writes-own)
		if f.writes > own+2 {
			res.OverIdealPlus2++
		}
		if f.first.Sub(downAt) < 2*time.Second {
			early++
			earlyWrites += f.writes
		}
		res.PolicyFloor = max(res.PolicyFloor, f.lastNB.Sub(upAt).Seconds())
	}
	if res.Failed > 0 {
		res.CyclesPerFail = float64(res.DLQWrites) / float64(res.Failed)
		res.MeanIdealEach = float64(ideals) / float64(res.Failed)
	}
	if early > 0 {
		res.EarlyRecords, res.EarlyCycles = early, float64(earlyWrites)/float64(early)
	}

	found := map[originKey]int{}
	err = readLines(ctx, b.svc.S3.Client(), b.bucket, "w3/", func(m outputMeta) {
		found[originKey{m.Redrive.Topic, m.Redrive.Partition, m.Redrive.Offset}]++
	})
	if err != nil {
		return err
	}
	for _, c := range found {
		res.InS3++
		res.Duplicates += c - 1
	}
	parkHW, err := b.kafka.HighWater(topic + ".parking")
	if err != nil {
		return err
	}
	err = readTopic(ctx, b.svc.Brokers, topic+".parking", parkHW, func(r *kgo.Record) {
		if env, err := envelopeOf(r); err == nil {
			k := originKey{env.Origin.Topic, env.Origin.Partition, env.Origin.Offset}
			if found[k] == 0 {
				res.Parked++
			}
			found[k]++
		}
	})
	if err != nil {
		return err
	}
	hw, err := b.kafka.HighWater(topic)
	if err != nil {
		return err
	}
	for p, h := range hw {
		for off := range h {
			if found[originKey{topic, p, off}] == 0 {
				res.Lost++
				if res.Lost <= 5 {
					b.log.Error("w3: record lost", "origin", originKey{topic, p, off})
				}
			}
		}
	}
	if total := sumOffsets(hw); total != int64(res.Produced) {
		return fmt.Errorf("w3: the input topic holds %d records but %d were produced", total, res.Produced)
	}
	return nil
}
