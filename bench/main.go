package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	Quick    bool
	Only     string // comma-separated workload numbers; empty: all
	Out      string
	Embedded bool
	Profile  bool
	// RedriveFlags are appended to every redrive run, to try settings.
	RedriveFlags string
	// RedriveEnv is added to every redrive run's environment.
	RedriveEnv string
}

// sizes bound every workload; -quick shrinks them for a run of a few
// minutes that still exercises every path.
type sizes struct {
	Partitions     int32
	RecordBytes    int
	PassRecords    int           // workload 1 (and 5)
	EnrichRecords  int           // workload 2, half of them enriched
	Concurrency    int           // --enrich-concurrency and the baseline's pool
	Latency        time.Duration // mock API latency
	Outage         time.Duration // workload 3
	OutageLead     time.Duration // flow before the outage
	OutageRate     int           // records/s produced during workload 3
	BacklogRecords int           // workload 4
	BacklogWindow  time.Duration // longest workload 4 observes the backlog
	ProfileRecords int           // in-process CPU profile of workload 1
	HeapRecords    int           // in-process heap profile of workload 4
	Rebalances     int           // workload r: joins and leaves of a second member, alternating
	RebalanceRate  int           // records/s produced during workload r
}

func fullSizes() sizes {
	return sizes{
		Partitions: 8, RecordBytes: 1024,
		PassRecords:   500_000,
		EnrichRecords: 100_000, Concurrency: 32, Latency: 10 * time.Millisecond,
		Outage: 60 * time.Second, OutageLead: 10 * time.Second, OutageRate: 400,
		BacklogRecords: 1_000_000, BacklogWindow: 4 * time.Minute,
		ProfileRecords: 200_000, HeapRecords: 200_000,
		Rebalances: 5, RebalanceRate: 1000,
	}
}

// quickSizes are fullSizes with every workload shortened. The record
// size, partitions, concurrency and API latency stay those of a full run,
// so that per-record figures of the two compare.
func quickSizes() sizes {
	s := fullSizes()
	s.PassRecords = 50_000
	s.EnrichRecords = 20_000
	s.Outage, s.OutageLead, s.OutageRate = 15*time.Second, 5*time.Second, 200
	s.BacklogRecords, s.BacklogWindow = 100_000, time.Minute
	s.ProfileRecords, s.HeapRecords = 50_000, 50_000
	s.Rebalances, s.RebalanceRate = 3, 500
	return s
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// goCommand is the go command: GO in the environment, as the Makefile
// passes it, else "go".
func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// run is the whole command, so that it can be driven from a test.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.Quick, "quick", false, "small sizes: every workload in a few minutes")
	fs.StringVar(&o.Only, "only", "", "comma-separated workloads to run, e.g. 1,3 (5 comes with 1; t is the lookup table, compared with 1; r is the rebalance pause; p and h are the CPU and heap profiles); default all")
	fs.StringVar(&o.Out, "out", "bench/results", "directory of the JSON results and profiles")
	fs.BoolVar(&o.Embedded, "embedded", false, "use the embedded broker and S3 even when the real ones can start")
	fs.BoolVar(&o.Profile, "profile", true, "profile in-process runs: pass-through (CPU, allocations) and backlog (heap)")
	fs.StringVar(&o.RedriveFlags, "redrive-flags", "", "extra flags for every `redrive run`, space-separated, e.g. \"--max-pending 5000\" (the table then measures those settings)")
	fs.StringVar(&o.RedriveEnv, "redrive-env", "", "extra environment for every `redrive run`, space-separated, e.g. GOMEMLIMIT=100MiB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := &bench{
		opts: o, sz: fullSizes(), log: log,
		http: &http.Client{Timeout: 5 * time.Second},
		res: &results{
			Started:      time.Now(),
			Command:      strings.TrimSpace("go run ./bench " + strings.Join(args, " ")),
			Quick:        o.Quick,
			RedriveFlags: o.RedriveFlags,
			RedriveEnv:   o.RedriveEnv,
			GoVersion:    runtime.Version(),
			CPUs:         runtime.NumCPU(),
			LoadStart:    loadAvg(),
		},
	}
	if o.Quick {
		b.sz = quickSizes()
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root (make bench)")
	}
	// The whole suite is bounded; the workloads bound themselves within it.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()

	var err error
	if b.logDir, err = os.MkdirTemp("", "redrive-bench-"); err != nil {
		return err
	}
	b.res.Logs = b.logDir
	log.Info("building redrive and the baseline")
	if b.bins, err = buildBinaries(ctx, b.logDir); err != nil {
		return err
	}
	b.res.Commit = b.bins.Commit
	log.Info("starting Kafka and S3")
	if b.svc, err = startServices(ctx, log, o.Embedded); err != nil {
		return err
	}
	defer b.svc.Close()
	b.res.Services, b.res.ServicesInfo = b.svc.Kind, b.svc.Detail
	log.Info("services", "kind", b.svc.Kind, "detail", b.svc.Detail, "brokers", b.svc.Brokers)
	if b.kafka, err = newCluster(b.svc.Brokers); err != nil {
		return err
	}
	defer b.kafka.Close()
	b.bucket = "bench"
	if err := b.svc.CreateBucket(ctx, b.bucket); err != nil {
		return err
	}

	for _, w := range []struct {
		id, name string
		run      func(context.Context) error
	}{
		{"1", "1 pass-through + 5 S3 objects", b.passThrough},
		{"2", "2 enrichment", b.enrichment},
		{"t", "t lookup table", b.table},
		{"3", "3 outage", b.outage},
		{"4", "4 backlog memory", b.backlog},
		{"r", "r rebalance pause", b.rebalance},
		{"p", "CPU profile of pass-through", b.profile},
		{"h", "heap profile of the backlog", b.heapProfile},
	} {
		if !o.wants(w.id) {
			continue
		}
		if ctx.Err() != nil {
			b.res.fail(w.name, context.Cause(ctx))
			continue
		}
		log.Info("workload start", "workload", w.name)
		start := time.Now()
		if err := w.run(ctx); err != nil {
			log.Error("workload failed", "workload", w.name, "err", err)
			b.res.fail(w.name, err)
		}
		log.Info("workload done", "workload", w.name, "took", time.Since(start).Round(time.Second))
	}

	b.res.Finished = time.Now()
	b.res.LoadEnd = loadAvg()
	b.res.writeTable(stdout)
	path, err := b.res.writeJSON(o.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s\n", path)
	if len(b.res.Errors) > 0 {
		return fmt.Errorf("%d workload(s) did not finish", len(b.res.Errors))
	}
	return nil
}

// wants tells whether workload id is to run.
func (o options) wants(id string) bool {
	if (id == "p" || id == "h") && !o.Profile {
		return false
	}
	if o.Only == "" {
		return true
	}
	return slices.Contains(strings.Split(o.Only, ","), id)
}

// loadAvg is the 1- and 5-minute load average, for the report.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return "?"
	}
	return f[0] + "/" + f[1]
}
