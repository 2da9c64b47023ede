package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redrive-io/redrive/bench/baseline/summary"
)

// passResult is workload 1: records that need no enrichment, through
// redrive into S3, against a bare consumer reading the same topic.
type passResult struct {
	Records        int          `json:"records"`
	RecordBytes    int          `json:"record_bytes"`
	Partitions     int32        `json:"partitions"`
	Rule           string       `json:"rule"`
	ProduceSeconds float64      `json:"produce_seconds"`
	Redrive        runFigures   `json:"redrive"`
	Baselines      []runFigures `json:"baselines"`
	// BaselineRate and BaselineCPU are the means of the baseline runs (one
	// before and one after redrive's, so that drift in the machine's load
	// hits both sides).
	BaselineRate float64 `json:"baseline_records_per_sec"`
	BaselineCPU  float64 `json:"baseline_cpu_sec_per_million"`
	Ratio        float64 `json:"ratio"`
	// Floor is the bare consumer doing the work pass-through cannot avoid
	// (validate each value as a JSON object, compress it with a newline
	// into one gzip stream per partition at redrive's level, discard the
	// output): the best redrive could do. The floor and redrive run back
	// to back in Rounds (3; 1 with -quick), since one run of either varies
	// by a fifth on a shared machine. FloorRatio is the median of the
	// rounds' ratios of redrive's rate to the floor's, FloorCPURatio of
	// their CPU per record; Floor and Redrive are the round of the median
	// CPU ratio.
	Rounds        []passRound `json:"rounds"`
	Floor         *runFigures `json:"floor,omitempty"`
	FloorRatio    float64     `json:"floor_ratio,omitempty"`
	FloorCPURatio float64     `json:"floor_cpu_ratio,omitempty"`
	// Zstd is redrive with --compression zstd, against ZstdFloor, the
	// floor with zstd at redrive's level.
	Zstd      *runFigures `json:"zstd,omitempty"`
	ZstdFloor *runFigures `json:"zstd_floor,omitempty"`
	// Parquet is redrive with --format parquet (snappy, the columns of
	// bench/parquet-schema.yaml), against the gzip floor: it has no floor
	// of its own. ParquetObjects are its objects.
	Parquet        *runFigures    `json:"parquet,omitempty"`
	ParquetObjects *objectsResult `json:"parquet_objects,omitempty"`
}

// passRound is the floor and redrive measured back to back.
type passRound struct {
	Floor     runFigures `json:"floor"`
	Redrive   runFigures `json:"redrive"`
	RateRatio float64    `json:"rate_ratio"` // redrive's records/s over the floor's
	CPURatio  float64    `json:"cpu_ratio"`  // redrive's CPU per record over the floor's
}

// runFigures are one measured run of redrive or the baseline. The window
// starts when the group is stable and ends when its committed offsets
// reach the high-water marks.
type runFigures struct {
	Name             string  `json:"name"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSec    float64 `json:"records_per_sec"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	CPUSecPerMillion float64 `json:"cpu_sec_per_million"`
	PeakRSSMiB       float64 `json:"peak_rss_mib"`   // kernel's maxrss of the whole process life
	SteadyRSSMiB     float64 `json:"steady_rss_mib"` // median VmRSS while records flowed
	PeakGoroutines   int     `json:"peak_goroutines,omitempty"`
	// ReadSeconds (redrive) is from stable to every record handed to the
	// sink; StopSeconds from SIGTERM to exit (flushing the open batches).
	ReadSeconds float64 `json:"read_seconds,omitempty"`
	StopSeconds float64 `json:"stop_seconds,omitempty"`
	// SelfTimedRate (baseline) is its own count: first record read to
	// every record read and committed, a cross-check of the window.
	SelfTimedRate float64 `json:"self_timed_records_per_sec,omitempty"`
	Log           string  `json:"log"`
}

func (b *bench) passThrough(ctx context.Context) error {
	n := b.sz.PassRecords
	topic := "w1-pass"
	res := &passResult{Records: n, RecordBytes: b.sz.RecordBytes, Partitions: b.sz.Partitions, Rule: enrichRule}
	b.res.PassThrough = res
	// The rule is configured, as in a deployment that enriches other
	// traffic, but no record matches it: the API must see no request.
	in, err := b.seedAndServe(ctx, topic, n, 0, 1)
	if err != nil {
		return err
	}
	res.ProduceSeconds = in.produced.Seconds()
	hw, api := in.hw, in.api
	defer api.Close()

	rounds := 3
	if b.opts.Quick {
		rounds = 1
	}
	// Runs are named by what they measure; a round's floor and redrive
	// carry its number.
	runs := []string{"baseline-1"}
	for r := range rounds {
		runs = append(runs, fmt.Sprintf("floor-gzip-%d", r+1), fmt.Sprintf("redrive-%d", r+1))
	}
	runs = append(runs, "redrive-zstd", "floor-zstd", "redrive-parquet", "baseline-2")
	for i, run := range runs {
		if run == "baseline-2" && b.opts.Quick {
			break
		}
		var f runFigures
		var round int
		switch kind, _ := fmt.Sscanf(run, "redrive-%d", &round); {
		case strings.HasPrefix(run, "floor-gzip-"):
			f, err = b.passBaseline(ctx, "w1-"+run, topic, n, hw, "-floor", "gzip")
			res.Rounds = append(res.Rounds, passRound{Floor: f})
		case kind == 1:
			// Round 1 writes under w1/, whose objects workload 5 measures.
			prefix := "w1"
			if round > 1 {
				prefix = fmt.Sprintf("w1r%d", round)
			}
			f, err = b.passRedrive(ctx, "w1-"+run, topic, prefix, n, hw, api.URL)
			rd := &res.Rounds[round-1]
			rd.Redrive, rd.RateRatio, rd.CPURatio = f, f.RecordsPerSec/rd.Floor.RecordsPerSec, f.CPUSecPerMillion/rd.Floor.CPUSecPerMillion
		case run == "redrive-zstd":
			f, err = b.passRedrive(ctx, "w1-"+run, topic, "w1z", n, hw, api.URL, "--compression", "zstd")
			res.Zstd = &f
		case run == "redrive-parquet":
			f, err = b.passRedrive(ctx, "w1-"+run, topic, "w1p", n, hw, api.URL, "--format", "parquet", "--parquet-schema", parquetSchemaFile)
			res.Parquet = &f
		case run == "floor-zstd":
			f, err = b.passBaseline(ctx, "w1-"+run, topic, n, hw, "-floor", "zstd")
			res.ZstdFloor = &f
		default: // baseline-1, baseline-2
			f, err = b.passBaseline(ctx, "w1-"+run, topic, n, hw)
			res.Baselines = append(res.Baselines, f)
		}
		if err != nil {
			return fmt.Errorf("w1 run %d (%s): %w", i+1, run, err)
		}
		b.log.Info("w1: run done", "run", run, "records_per_sec", int(f.RecordsPerSec), "cpu_s_per_M", f.CPUSecPerMillion, "peak_rss_mib", f.PeakRSSMiB)
	}
	if calls := api.Stats().Requests; calls != 0 {
		return fmt.Errorf("w1: no record matches the rule, yet the API got %d requests", calls)
	}
	var baseRSS float64
	for _, f := range res.Baselines {
		res.BaselineRate += f.RecordsPerSec / float64(len(res.Baselines))
		res.BaselineCPU += f.CPUSecPerMillion / float64(len(res.Baselines))
		baseRSS += f.SteadyRSSMiB / float64(len(res.Baselines))
	}
	byRate := medianRound(res.Rounds, func(r passRound) float64 { return r.RateRatio })
	byCPU := medianRound(res.Rounds, func(r passRound) float64 { return r.CPURatio })
	byRSS := medianRound(res.Rounds, func(r passRound) float64 { return r.Redrive.SteadyRSSMiB })
	res.Redrive, res.Floor = byCPU.Redrive, &byCPU.Floor
	res.FloorRatio, res.FloorCPURatio = byRate.RateRatio, byCPU.CPURatio
	res.Ratio = byRate.Redrive.RecordsPerSec / res.BaselineRate

	r, base, fl := res.Redrive, res.Baselines[0], *res.Floor
	roundsNote := func(f func(passRound) float64) string {
		if len(res.Rounds) == 1 {
			return ""
		}
		var s []string
		for _, rd := range res.Rounds {
			s = append(s, fmt.Sprintf("%.2f", f(rd)))
		}
		return fmt.Sprintf("; median of %d rounds: %s", len(res.Rounds), strings.Join(s, ", "))
	}
	rr := byRate.Redrive
	b.res.add("1 pass-through", fmt.Sprintf("records/s (%dk × %d B, %d partitions)", n/1000, b.sz.RecordBytes, b.sz.Partitions),
		fnum(rr.RecordsPerSec), fmt.Sprintf("%s bare sarama group (self-timed %s)", fnum(res.BaselineRate), fnum(base.SelfTimedRate)), fratio(rr.RecordsPerSec, res.BaselineRate), "", nil)
	b.res.add("1 pass-through", "records/s against the floor (bare group + JSON check + gzip per partition)",
		fnum(rr.RecordsPerSec), fnum(byRate.Floor.RecordsPerSec)+" floor"+roundsNote(func(r passRound) float64 { return r.RateRatio }), fratio(rr.RecordsPerSec, byRate.Floor.RecordsPerSec), "≥ 0.6", check(res.FloorRatio >= 0.6))
	b.res.add("1 pass-through", "CPU s per 1M records", fnum(r.CPUSecPerMillion), fnum(res.BaselineCPU), fratio(r.CPUSecPerMillion, res.BaselineCPU), "", nil)
	b.res.add("1 pass-through", "CPU s per 1M records against the floor", fnum(r.CPUSecPerMillion), fnum(fl.CPUSecPerMillion)+" floor"+roundsNote(func(r passRound) float64 { return r.CPURatio }), fratio(r.CPUSecPerMillion, fl.CPUSecPerMillion), "≤ 1.5", check(res.FloorCPURatio <= 1.5))
	b.res.add("1 pass-through", "peak RSS MiB (whole life)", fnum(r.PeakRSSMiB), fnum(base.PeakRSSMiB), fratio(r.PeakRSSMiB, base.PeakRSSMiB), "", nil)
	sr := byRSS.Redrive.SteadyRSSMiB
	b.res.add("1 pass-through", "steady RSS MiB (median while flowing)", fnum(sr), fnum(baseRSS)+" bare (mean of its runs)"+roundsNote(func(r passRound) float64 { return r.Redrive.SteadyRSSMiB }), fratio(sr, baseRSS),
		"≤ bare + 64", check(sr <= baseRSS+64))
	if z, zf := res.Zstd, res.ZstdFloor; z != nil && zf != nil {
		b.res.add("1 pass-through", "--compression zstd: records/s against the zstd floor", fnum(z.RecordsPerSec), fnum(zf.RecordsPerSec)+" floor", fratio(z.RecordsPerSec, zf.RecordsPerSec), "", nil)
		b.res.add("1 pass-through", "--compression zstd: CPU s per 1M records against the zstd floor", fnum(z.CPUSecPerMillion), fnum(zf.CPUSecPerMillion)+" floor", fratio(z.CPUSecPerMillion, zf.CPUSecPerMillion), "", nil)
		b.res.add("1 pass-through", "--compression zstd: steady RSS MiB", fnum(z.SteadyRSSMiB), fnum(baseRSS), fratio(z.SteadyRSSMiB, baseRSS), "", nil)
	}
	if pq := res.Parquet; pq != nil {
		b.res.add("1 pass-through", "--format parquet: records/s against JSON Lines (gzip)", fnum(pq.RecordsPerSec), fnum(r.RecordsPerSec)+" jsonl", fratio(pq.RecordsPerSec, r.RecordsPerSec), "", nil)
		b.res.add("1 pass-through", "--format parquet: CPU s per 1M records against JSON Lines (gzip)", fnum(pq.CPUSecPerMillion), fnum(r.CPUSecPerMillion)+" jsonl", fratio(pq.CPUSecPerMillion, r.CPUSecPerMillion), "", nil)
		b.res.add("1 pass-through", "--format parquet: steady RSS MiB", fnum(pq.SteadyRSSMiB), fnum(baseRSS), fratio(pq.SteadyRSSMiB, baseRSS), "", nil)
		objs, err := b.measureObjects(ctx, "w1p/", hw, n)
		if err != nil {
			return err
		}
		res.ParquetObjects = objs
		b.res.add("1 pass-through", "--format parquet: mean object MiB (steady), objects per 1M records", fmt.Sprintf("%.2f, %s", objs.SteadyMeanMiB, fnum(objs.ObjectsPerMillion)), "", "", "", check(objs.Covered))
	}
	return b.objects(ctx, "w1/", hw, n)
}

// medianRound returns the round whose key is the median (the lower middle
// of an even count).
func medianRound(rounds []passRound, key func(passRound) float64) passRound {
	s := slices.Clone(rounds)
	slices.SortFunc(s, func(a, b passRound) int { return cmp.Compare(key(a), key(b)) })
	return s[(len(s)-1)/2]
}

// parquetSchemaFile is the bench records' Parquet columns, relative to the
// repository root that make bench runs from.
const parquetSchemaFile = "bench/parquet-schema.yaml"

// passBaseline measures the bare consumer reading topic.
func (b *bench) passBaseline(ctx context.Context, name, topic string, n int, hw map[int32]int64, extra ...string) (runFigures, error) {
	p, err := b.startSettled(ctx, "bench-"+name, b.baselineStarter(name, topic, extra...))
	if err != nil {
		return runFigures{}, err
	}
	defer p.Kill()
	f, err := b.passFigures(ctx, p, false, 10*time.Minute, topic, n, hw)
	if s, serr := baselineSummary(p.log); serr == nil && s.Done.After(s.FirstRecord) {
		f.SelfTimedRate = float64(s.Records) / s.Done.Sub(s.FirstRecord).Seconds()
	}
	return f, err
}

// passRedrive measures redrive moving topic to S3. redrive's open batches
// are sealed by age (30 s by default), which a finite run would spend
// idle, so once every record has been handed to the sink redrive gets
// SIGTERM: its graceful stop flushes the open batches and commits, and the
// window ends when the commits reach the high-water marks.
func (b *bench) passRedrive(ctx context.Context, name, topic, prefix string, n int, hw map[int32]int64, apiURL string, extra ...string) (runFigures, error) {
	args := append([]string{"--enrich-when", enrichRule, "--enrich-url", apiURL}, extra...)
	p, err := b.startSettled(ctx, "bench-"+name, b.redriveStarter(name, topic, prefix, args...))
	if err != nil {
		return runFigures{}, err
	}
	defer p.Kill()
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	peakG, err := b.waitRouted(readCtx, p.proc, p.addr, float64(n))
	if err != nil {
		return runFigures{}, err
	}
	read := time.Now() // and told to stop
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return runFigures{}, err
	}
	f, err := b.passFigures(ctx, p, true, 2*time.Minute, topic, n, hw)
	if err != nil {
		return runFigures{}, err
	}
	f.PeakGoroutines = peakG
	f.ReadSeconds = read.Sub(p.start).Seconds()
	f.StopSeconds = p.ExitAt().Sub(read).Seconds()
	f.SteadyRSSMiB = mib(medianRSS(p.Samples(p.start, read)))
	return f, nil
}

// passFigures ends a run's window when p's group has committed topic up to
// the high-water marks hw, waits for p to exit and returns the run's
// figures. stopped says that p was told to stop, so that its exit is
// expected, not early.
func (b *bench) passFigures(ctx context.Context, p *settled, stopped bool, timeout time.Duration, topic string, n int, hw map[int32]int64) (runFigures, error) {
	watch := p.proc
	if stopped {
		watch = nil
	}
	done, err := b.waitCommitted(ctx, watch, timeout, p.group, topic, hw)
	if err != nil {
		return runFigures{}, err
	}
	if err := p.Wait(time.Minute); err != nil {
		return runFigures{}, err
	}
	cpu, peak, err := p.Usage()
	if err != nil {
		return runFigures{}, err
	}
	secs := done.Sub(p.start).Seconds()
	window := cpu - p.cpu0
	return runFigures{
		Name:             p.name,
		Seconds:          secs,
		RecordsPerSec:    float64(n) / secs,
		CPUSeconds:       window.Seconds(),
		CPUSecPerMillion: window.Seconds() / float64(n) * 1e6,
		PeakRSSMiB:       mib(peak),
		SteadyRSSMiB:     mib(medianRSS(p.Samples(p.start, done))),
		Log:              p.log,
	}, nil
}

// baselineSummary reads the JSON summary the baseline prints last.
func baselineSummary(logPath string) (summary.Summary, error) {
	var s summary.Summary
	lines := strings.Split(strings.TrimSpace(tail(logPath, 1)), "\n")
	err := json.Unmarshal([]byte(lines[len(lines)-1]), &s)
	return s, err
}
