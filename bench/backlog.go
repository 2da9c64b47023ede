package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

func (b *bench) backlog(ctx context.Context) error {
	n := b.sz.BacklogRecords
	topic := "w4-backlog"
	// redrive's defaults, passed explicitly; -redrive-flags may override
	// them (the last flag wins), and the table then shows what ran.
	maxPending := flagInt(b.opts.RedriveFlags, "--max-pending", 20000)
	maxWaiting := flagInt(b.opts.RedriveFlags, "--max-waiting", 1000)
	res := &backlogResult{Records: n, RecordBytes: b.sz.RecordBytes, MaxPending: maxPending, MaxWaiting: maxWaiting, Concurrency: b.sz.Concurrency}
	b.res.Backlog = res
	in, err := b.seedAndServe(ctx, topic, n, 1, 4)
	if err != nil {
		return err
	}
	res.ProduceSeconds = in.produced.Seconds()
	api := in.api
	defer api.Close()
	api.SetDown(true)
	group := "bench-w4-redrive"
	p, err := b.startRedrive("w4-redrive", topic, group, "w4",
		"--enrich-when", enrichRule, "--enrich-url", api.URL, "--enrich-concurrency", strconv.Itoa(b.sz.Concurrency),
		"--max-pending", strconv.Itoa(maxPending), "--max-waiting", strconv.Itoa(maxWaiting))
	if err != nil {
		return err
	}
	defer p.Kill()
	res.Log = p.log
	start, _, err := b.waitStable(ctx, p.proc, group)
	if err != nil {
		return err
	}

	// Observe until the input is all in the DLQ, then a few seconds more
	// of DLQ cycling, or until the time bound.
	deadline := start.Add(b.sz.BacklogWindow)
	var doneAt time.Time
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastLag := time.Time{}
	for time.Now().Before(deadline) && (doneAt.IsZero() || time.Since(doneAt) < 5*time.Second) {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
		if p.Exited() {
			return p.exitedEarly("the backlog was observed")
		}
		if m, err := scrape(ctx, b.http, p.Addr); err == nil {
			res.PeakGoroutines = max(res.PeakGoroutines, int(m.Max("go_goroutines")))
			res.PeakPending = max(res.PeakPending, m.Max("redrive_partition_pending_records"))
			res.PeakWaiting = max(res.PeakWaiting, m.Max("redrive_partition_waiting_records"))
			res.PeakSinkLines = max(res.PeakSinkLines, m.Max("redrive_sink_pending_records"))
		}
		if doneAt.IsZero() && time.Since(lastLag) >= 2*time.Second {
			lastLag = time.Now()
			if lag, err := b.kafka.Lag(group, topic); err == nil && lag == 0 {
				doneAt = time.Now()
				b.log.Info("w4: the whole backlog is in the DLQ", "after", doneAt.Sub(start).Round(time.Second))
			}
		}
	}
	end := time.Now()
	res.WindowSeconds = end.Sub(start).Seconds()
	res.MainDone = !doneAt.IsZero()
	for _, s := range p.Samples(start, end) {
		res.PeakRSSMiB = max(res.PeakRSSMiB, mib(s.HWM))
	}
	res.RequestsDown = api.Stats().Outage
	if lag, err := b.kafka.Lag(group, topic); err == nil {
		res.MainMoved = int64(n) - lag
	}
	if res.StopSeconds, res.LifeRSSMiB, err = p.stopMeasured(time.Minute); err != nil {
		return err
	}
	if hw, err := b.kafka.HighWater(topic + ".dlq"); err == nil {
		res.DLQWrites = sumOffsets(hw)
	}

	steadyG, steadyRef := 0, "pass-through not run"
	if b.res.PassThrough != nil {
		steadyG = b.res.PassThrough.Redrive.PeakGoroutines
		steadyRef = fmt.Sprintf("%d in pass-through (no backlog)", steadyG)
	}
	moved := fmt.Sprintf("%d of %d input records moved to the DLQ in %.0f s", res.MainMoved, n, res.WindowSeconds)
	b.res.add("4 backlog", fmt.Sprintf("peak RSS MiB, %dk records waiting, API down (%s)", n/1000, moved), fnum(res.PeakRSSMiB),
		fmt.Sprintf("%.0f whole life incl. stop", res.LifeRSSMiB), "", "< 300", check(res.PeakRSSMiB < 300))
	b.res.add("4 backlog", "peak goroutines", strconv.Itoa(res.PeakGoroutines), steadyRef, fratio(float64(res.PeakGoroutines), float64(steadyG)), "bounded", nil)
	b.res.add("4 backlog", "peak pending records per partition", fnum(res.PeakPending), fmt.Sprintf("--max-pending %d", maxPending), fratio(res.PeakPending, float64(maxPending)), "≤ 1", check(res.PeakPending <= float64(maxPending)))
	// Pause stops future fetches only: what was fetched still arrives, up
	// to one fetch (sarama's 1 MiB default) plus the 256-record channel.
	overshoot := 1<<20/b.sz.RecordBytes + 256
	b.res.add("4 backlog", "peak waiting DLQ records per partition", fnum(res.PeakWaiting), fmt.Sprintf("--max-waiting %d", maxWaiting),
		fratio(res.PeakWaiting, float64(maxWaiting)), fmt.Sprintf("≤ %d (+ one fetch)", maxWaiting+overshoot), check(res.PeakWaiting <= float64(maxWaiting+overshoot)))
	b.res.add("4 backlog", "graceful stop with the backlog held (s)", fnum(res.StopSeconds), "--shutdown-grace 30s", "", "", check(res.StopSeconds < 30))
	return nil
}

// backlogResult is workload 4: a backlog of records that all need
// enrichment while the API is down. Every one fails (the breaker opens
// after a few), goes to the DLQ and comes back not yet due; memory and
// goroutines must stay bounded by the windows, whatever the backlog.
type backlogResult struct {
	Records        int     `json:"records"`
	RecordBytes    int     `json:"record_bytes"`
	ProduceSeconds float64 `json:"produce_seconds"`
	MaxPending     int     `json:"max_pending"` // --max-pending, per partition
	MaxWaiting     int     `json:"max_waiting"` // --max-waiting, per partition
	Concurrency    int     `json:"enrich_concurrency"`
	// WindowSeconds is how long the backlog was observed: until every
	// input record had been moved to the DLQ (MainDone) and a little more,
	// or the workload's time bound.
	WindowSeconds  float64 `json:"window_seconds"`
	MainDone       bool    `json:"main_done"`
	MainMoved      int64   `json:"main_committed"` // input records committed (durable in the DLQ)
	DLQWrites      int64   `json:"dlq_writes"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`      // VmHWM during the window
	LifeRSSMiB     float64 `json:"life_peak_rss_mib"` // the kernel's maxrss, stop included
	PeakGoroutines int     `json:"peak_goroutines"`
	PeakPending    float64 `json:"peak_pending_per_partition"`
	PeakWaiting    float64 `json:"peak_waiting_per_partition"`
	PeakSinkLines  float64 `json:"peak_sink_pending"`
	RequestsDown   int64   `json:"requests_while_down"`
	StopSeconds    float64 `json:"stop_seconds"`
	Log            string  `json:"log"`
}

// flagInt is the value of the last --name N in a space-separated flag
// list, or def when there is none.
func flagInt(flags, name string, def int) int { return flagLast(flags, name, def, strconv.Atoi) }

// flagLast is the value of the last --name V or --name=V in a
// space-separated flag list that parse accepts, or def when there is none.
func flagLast[T any](flags, name string, def T, parse func(string) (T, error)) T {
	fields := strings.Fields(flags)
	for i := len(fields) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(fields[i], name+"="); ok {
			if n, err := parse(v); err == nil {
				return n
			}
		}
		if fields[i] == name && i+1 < len(fields) {
			if n, err := parse(fields[i+1]); err == nil {
				return n
			}
		}
	}
	return def
}
