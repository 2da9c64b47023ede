package main

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/internal/wait"
)

// enrichResult is workload 2: half the records need enrichment from an API
// with a fixed latency; the bound is C requests in flight.
type enrichResult struct {
	Records     int     `json:"records"`
	Enriched    int     `json:"enriched"`
	Concurrency int     `json:"concurrency"`
	LatencyMs   float64 `json:"nominal_latency_ms"`
	Redrive     callRun `json:"redrive"`
	Baseline    callRun `json:"baseline"`
}

// callRun is one run against a fresh mock API. Achieved is the answers over
// the span from the first request's arrival to the last answer; Ideal is
// Concurrency / MeanServedMs, the mean latency the API really served in
// that run (the nominal latency overstates the bound on a loaded machine).
type callRun struct {
	Name         string  `json:"name"`
	Answers      int64   `json:"answers"`
	SpanSeconds  float64 `json:"span_seconds"`
	MeanServedMs float64 `json:"mean_served_ms"`
	MaxInFlight  int64   `json:"max_in_flight"`
	// MeanInFlight is the requests in flight at the API, sampled every
	// 100 ms until the last answer: Achieved/Ideal is about
	// MeanInFlight/Concurrency.
	MeanInFlight float64 `json:"mean_in_flight"`
	// MeanCallMs and MeanRequestMs are redrive's own view (its metrics):
	// a call as the pipeline sees it (waiting for a slot and in-line
	// retries included), and one HTTP request.
	MeanCallMs     float64 `json:"mean_call_ms,omitempty"`
	MeanRequestMs  float64 `json:"mean_request_ms,omitempty"`
	Achieved       float64 `json:"achieved_per_sec"`
	Ideal          float64 `json:"ideal_per_sec"`
	Ratio          float64 `json:"ratio"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
	ElapsedSeconds float64 `json:"elapsed_seconds"` // stable to the last answer
	Log            string  `json:"log"`
}

func (b *bench) enrichment(ctx context.Context) error {
	n, c := b.sz.EnrichRecords, b.sz.Concurrency
	topic := "w2-enrich"
	if _, _, err := b.seedTopic(ctx, topic, n, 0.5); err != nil {
		return err
	}
	res := &enrichResult{Records: n, Enriched: countEnriched(n, 0.5), Concurrency: c, LatencyMs: float64(b.sz.Latency) / float64(time.Millisecond)}
	b.res.Enrichment = res
	var err error
	if res.Baseline, err = b.enrichRun(ctx, "w2-baseline", topic, res.Enriched, func(url string) starter {
		return b.baselineStarter("w2-baseline", topic, "-enrich-url", url, "-concurrency", strconv.Itoa(c), "-match", `"category":"X"`)
	}); err != nil {
		return err
	}
	if res.Redrive, err = b.enrichRun(ctx, "w2-redrive", topic, res.Enriched, func(url string) starter {
		return b.redriveStarter("w2-redrive", topic, "w2", "--enrich-when", enrichRule, "--enrich-url", url,
			"--enrich-concurrency", strconv.Itoa(c))
	}); err != nil {
		return err
	}
	b.enrichIdeal = res.Redrive.Ideal
	r, base := res.Redrive, res.Baseline
	b.res.add("2 enrichment", fmt.Sprintf("enriched/s, C=%d, %s API (ideal C/served latency %.1f ms)", c, b.sz.Latency, r.MeanServedMs),
		fnum(r.Achieved), fnum(r.Ideal)+" ideal", fmt.Sprintf("%.2f", r.Ratio), "≥ 0.9", check(r.Ratio >= 0.9))
	b.res.add("2 enrichment", "mean requests in flight at the API (redrive: call / request ms as it sees them)",
		fmt.Sprintf("%.1f (%.1f / %.1f ms)", r.MeanInFlight, r.MeanCallMs, r.MeanRequestMs), fmt.Sprintf("%.1f baseline; C = %d", base.MeanInFlight, c),
		fratio(r.MeanInFlight, float64(c)), "", nil)
	b.res.add("2 enrichment", fmt.Sprintf("bare sarama group + %d HTTP callers (served %.1f ms)", c, base.MeanServedMs),
		fnum(base.Achieved), fnum(base.Ideal)+" ideal", fmt.Sprintf("%.2f", base.Ratio), "", nil)
	b.res.add("2 enrichment", "redrive achieved / baseline achieved", "", "", fratio(r.Achieved, base.Achieved), "", nil)
	return nil
}

// enrichRun measures one consumer against a fresh mock API: start it
// (start returns its starter for the API's URL), wait for every enrichment
// to be answered, stop it (redrive by SIGTERM, the baseline exits on its
// own) and check that its group caught up.
func (b *bench) enrichRun(ctx context.Context, name, topic string, want int, start func(apiURL string) starter) (callRun, error) {
	api, err := startAPI(mockapi.Config{Latency: b.sz.Latency, Seed: 2})
	if err != nil {
		return callRun{}, err
	}
	defer api.Close()
	group := "bench-" + name
	p, err := b.startSettled(ctx, group, start(api.URL))
	if err != nil {
		return callRun{}, err
	}
	defer p.Kill()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var inFlightSum, inFlightN int64
	err = wait.Until(wctx, 100*time.Millisecond, name+" to enrich every matching record", func() (bool, error) {
		if api.Stats().OK >= int64(want) {
			return true, nil
		}
		if api.Span() > 0 {
			inFlightSum += api.InFlight()
			inFlightN++
		}
		if p.Exited() {
			return false, p.exitedEarly("every enrichment was answered")
		}
		return false, nil
	})
	if err != nil {
		return callRun{}, err
	}
	answered := time.Now()
	var callMs, requestMs float64
	if p.addr != "" { // redrive: stop it once everything is read, as in workload 1
		if _, err := b.waitRouted(wctx, p.proc, p.addr, float64(b.sz.EnrichRecords)); err != nil {
			return callRun{}, err
		}
		if m, err := scrape(wctx, b.http, p.addr); err == nil {
			callMs = meanMs(m, "redrive_enrich_call_seconds")
			requestMs = meanMs(m, "redrive_enrich_request_duration_seconds")
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			return callRun{}, err
		}
	}
	if err := p.Wait(2 * time.Minute); err != nil {
		return callRun{}, err
	}
	if ok, err := b.kafka.CaughtUp(group, topic); err != nil || !ok {
		return callRun{}, fmt.Errorf("%s stopped without committing everything (caught up %v, err %v)", name, ok, err)
	}
	st := api.Stats()
	cpu, peak, err := p.Usage()
	if err != nil {
		return callRun{}, err
	}
	r := callRun{
		Name: name, Answers: st.OK, SpanSeconds: api.Span().Seconds(),
		MeanServedMs: float64(st.MeanServedLatency) / float64(time.Millisecond), MaxInFlight: st.MaxInFlight,
		CPUSeconds: (cpu - p.cpu0).Seconds(), PeakRSSMiB: mib(peak),
		ElapsedSeconds: answered.Sub(p.start).Seconds(), Log: p.log,
		MeanCallMs: callMs, MeanRequestMs: requestMs,
	}
	if inFlightN > 0 {
		r.MeanInFlight = float64(inFlightSum) / float64(inFlightN)
	}
	if st.OK != int64(want) || st.Requests != st.OK {
		return r, fmt.Errorf("%s: API answered %d requests, %d OK; want exactly %d OK", name, st.Requests, st.OK, want)
	}
	r.Achieved = float64(st.OK) / r.SpanSeconds
	r.Ideal = float64(b.sz.Concurrency) / st.MeanServedLatency.Seconds()
	r.Ratio = r.Achieved / r.Ideal
	b.log.Info("w2: run done", "run", name, "achieved", int(r.Achieved), "ideal", int(r.Ideal), "ratio", r.Ratio, "max_in_flight", r.MaxInFlight)
	return r, nil
}

// waitRouted waits until redrive's metrics say it routed at least n
// records, and returns the most goroutines they showed meanwhile.
func (b *bench) waitRouted(ctx context.Context, p *proc, addr string, n float64) (int, error) {
	peakG := 0
	err := wait.Until(ctx, 250*time.Millisecond, "redrive to route every record", func() (bool, error) {
		if p.Exited() {
			return false, p.exitedEarly("routing every record")
		}
		m, err := scrape(ctx, b.http, addr)
		if err != nil {
			return false, nil //nolint:nilerr // a missed scrape: poll again
		}
		peakG = max(peakG, int(m.Max("go_goroutines")))
		return m.Sum("redrive_records_routed_total", nil) >= n, nil
	})
	return peakG, err
}

// meanMs is a histogram's mean in milliseconds, from its _sum and _count.
func meanMs(m promSamples, name string) float64 {
	n := m.Sum(name+"_count", nil)
	if n == 0 {
		return 0
	}
	return m.Sum(name+"_sum", nil) / n * 1000
}
