package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v4"

	"github.com/redrive-io/redrive/enrich/mockapi"
)

func newMockAPICommand(stdout, _ io.Writer) *ff.Command {
	var (
		addr    string
		cfg     mockapi.Config
		outages []string
	)
	fs := newFlagSet("mockapi")
	fs.str(&addr, "addr", "127.0.0.1:8080", "listen address")
	fs.duration(&cfg.Latency, "latency", 0, "latency added to every answer")
	fs.FlagSet.Float64Var(&cfg.ErrorRate, 0, "error-rate", 0, fs.usage("error-rate", "fraction of requests answered 503 (transient)"))
	fs.FlagSet.Float64Var(&cfg.PermanentRate, 0, "permanent-rate", 0, fs.usage("permanent-rate", "fraction answered 400 (permanent)"))
	fs.FlagSet.Float64Var(&cfg.GarbageRate, 0, "garbage-rate", 0, fs.usage("garbage-rate", "fraction answered 200 with a body that is not JSON"))
	fs.value(listValue{&outages}, "outage", "outage windows START+DURATION after start-up, comma-separated, e.g. 30s+1m")
	var seed int
	fs.integer(&seed, "seed", 0, "seed of the random draws (same seed, same answers)")
	return &ff.Command{
		Name:      "mockapi",
		Usage:     "redrive mockapi [--addr 127.0.0.1:8080] [--latency 10ms] [--error-rate 0.2] [--outage 30s+1m]",
		ShortHelp: "run a mock enrichment API (latency, error rates, outage windows) for tests and benchmarks",
		Flags:     fs.FlagSet,
		Exec: func(ctx context.Context, _ []string) error {
			cfg.Seed = int64(seed)
			for _, o := range outages {
				w, err := parseWindow(o)
				if err != nil {
					return usageError{fmt.Errorf("outage: %w", err)}
				}
				cfg.Outages = append(cfg.Outages, w)
			}
			if err := checkMockRates(cfg); err != nil {
				return usageError{err}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("addr: %w", err)
			}
			fmt.Fprintf(stdout, "mock enrichment API listening on http://%s\n", ln.Addr())
			api := mockapi.New(cfg)
			err = api.Serve(ctx, ln)
			fmt.Fprintf(stdout, "served %+v\n", api.Stats())
			return err
		},
	}
}

// parseWindow reads START+DURATION, e.g. 30s+1m.
func parseWindow(s string) (mockapi.Window, error) {
	start, dur, ok := strings.Cut(s, "+")
	if !ok {
		return mockapi.Window{}, fmt.Errorf("%q is not START+DURATION, e.g. 30s+1m", s)
	}
	st, err := time.ParseDuration(start)
	if err != nil {
		return mockapi.Window{}, fmt.Errorf("%q: %w", s, err)
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return mockapi.Window{}, fmt.Errorf("%q: %w", s, err)
	}
	return mockapi.Window{Start: st, Duration: d}, nil
}

// checkMockRates checks the flags that mockapi.Config.Validate would
// report by their Go field names (ErrorRate), naming the flags instead.
func checkMockRates(cfg mockapi.Config) error {
	for _, r := range []struct {
		flag string
		v    float64
	}{{"error-rate", cfg.ErrorRate}, {"permanent-rate", cfg.PermanentRate}, {"garbage-rate", cfg.GarbageRate}} {
		if r.v < 0 || r.v > 1 {
			return fmt.Errorf("%s: %v is not a fraction between 0 and 1", r.flag, r.v)
		}
	}
	if sum := cfg.ErrorRate + cfg.PermanentRate + cfg.GarbageRate; sum > 1 {
		return fmt.Errorf("error-rate, permanent-rate and garbage-rate: they add up to %v, more than 1", sum)
	}
	if cfg.Latency < 0 {
		return fmt.Errorf("latency: %s is negative", cfg.Latency)
	}
	return nil
}
