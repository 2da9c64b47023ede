package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/redrive-io/redrive/internal/wait"
)

// profileResult is where workload 1's time goes: a CPU and an allocation
// profile of the same pass-through, run in this process through the root
// package's API (the binary serves no pprof endpoint).
type profileResult struct {
	Records      int          `json:"records"`
	Seconds      float64      `json:"seconds"`
	CPUProfile   string       `json:"cpu_profile"`
	AllocProfile string       `json:"alloc_profile"`
	AllocBase    string       `json:"alloc_profile_base"` // subtract it (pprof -diff_base)
	HeapProfile  string       `json:"heap_profile"`       // in use at the heap's peak
	PeakHeapMiB  float64      `json:"peak_heap_inuse_mib"`
	HeapTop      string       `json:"heap_top"`
	Top          string       `json:"top"`
	Stages       []stageShare `json:"stages"`
	Grouped      string       `json:"-"`
}

// stageShare is the CPU of the samples whose stack passes through a stage
// (a regular expression over function names). Stages overlap where one
// calls another, so shares do not add up to 100%.
type stageShare struct {
	Stage   string  `json:"stage"`
	Regexp  string  `json:"regexp"`
	Seconds float64 `json:"seconds"`
	Share   float64 `json:"share"`
}

// stages are the costs the pass-through is expected to pay.
var stages = []struct{ name, re string }{
	{"Kafka fetch and decode (sarama consumer)", `IBM/sarama\.\(\*(partitionConsumer|brokerConsumer|consumerGroup)|IBM/sarama\.decode|IBM/sarama\.\(\*(Record|Message)`},
	{"goka dispatch (partition processor)", `lovoo/goka\.\(\*PartitionProcessor\)`},
	{"JSON decode for the rule (pipeline ruleFields / decodeFields)", `pipeline\.\(\*Processor\)\.ruleFields|pipeline\.decodeFields`},
	{"JSON validation (pipeline.validateObject)", `pipeline\.validateObject`},
	{"rule evaluation (expr)", `expr-lang/expr`},
	{"output line (meta JSON, splice)", `pipeline\.lineParts`},
	{"gzip while appending (sinks openBatch.add)", `sinks\.\(\*openBatch\)\.add`},
	{"S3 upload (AWS SDK: signing, checksums, HTTP)", `sinks\.\(\*Batcher\)\.(upload|runWorker)|aws-sdk-go-v2|aws/smithy-go`},
	{"commit tracking (pipeline tracker)", `pipeline\.\(\*tracker\)`},
	{"Prometheus metrics", `prometheus/client_golang`},
	{"garbage collection (background mark)", `runtime\.gcBgMarkWorker`},
	{"memory allocation (mallocgc, all callers)", `runtime\.mallocgc`},
}

func (b *bench) profile(ctx context.Context) error {
	n := b.sz.ProfileRecords
	topic := "prof-pass"
	r, api, err := b.startInProcess(ctx, inProcessRun{topic: topic, group: "bench-profile", prefix: "prof", records: n, apiSeed: 5})
	if err != nil {
		return err
	}
	defer api.Close()
	res := &profileResult{Records: n,
		CPUProfile:   filepath.Join(b.opts.Out, "w1-cpu.out"),
		AllocProfile: filepath.Join(b.opts.Out, "w1-allocs.out"),
		AllocBase:    filepath.Join(b.opts.Out, "w1-allocs-base.out"),
		HeapProfile:  filepath.Join(b.opts.Out, "w1-heap.out")}
	b.res.Profile = res
	// The allocation profile counts from this process's start; the one
	// taken now is subtracted, so that the producer's allocations are not
	// blamed on redrive.
	if err := writeAllocs(res.AllocBase); err != nil {
		return err
	}
	f, err := os.Create(res.CPUProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(runCtx) }()
	// As in workload 1: once every record is read and routed, stop, which
	// flushes the open batches and commits.
	watch := newHeapWatch(res.HeapProfile, nil)
	werr := wait.Until(ctx, 250*time.Millisecond, "the profiled run to read every record", func() (bool, error) {
		if err := watch.Check(); err != nil {
			return false, err
		}
		return r.Stats().In >= int64(n), nil
	})
	res.PeakHeapMiB = watch.PeakMiB
	stop()
	runErr := <-errc
	res.Seconds = time.Since(start).Seconds()
	pprof.StopCPUProfile()
	if err := errors.Join(werr, runErr); err != nil {
		return err
	}
	if err := writeAllocs(res.AllocProfile); err != nil {
		return err
	}
	if ok, err := b.kafka.CaughtUp("bench-profile", topic); err != nil || !ok {
		return fmt.Errorf("profiled run stopped without committing everything (caught up %v, err %v)", ok, err)
	}
	return b.analyse(ctx, res)
}

// writeAllocs writes the allocation profile after a GC: the profile is
// only brought up to date by a completed collection.
func writeAllocs(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// analyse runs `go tool pprof` on the profiles: the flat top, the
// allocation top, and the CPU share of each stage.
func (b *bench) analyse(ctx context.Context, res *profileResult) error {
	top, err := pprofText(ctx, "-top", "-nodecount=20", res.CPUProfile)
	if err != nil {
		return err
	}
	allocs, err := pprofText(ctx, "-top", "-nodecount=12", "-sample_index=alloc_space", "-diff_base="+res.AllocBase, res.AllocProfile)
	if err != nil {
		return err
	}
	heap, err := pprofText(ctx, "-top", "-nodecount=12", "-sample_index=inuse_space", res.HeapProfile)
	if err != nil {
		return err
	}
	res.Top = "CPU, flat:\n" + trimPprof(top) + "\n\nallocated bytes, flat:\n" + trimPprof(allocs)
	res.HeapTop = fmt.Sprintf("heap in use at its peak (%.0f MiB):\n%s", res.PeakHeapMiB, trimPprof(heap))
	total, err := pprofTotal(ctx, res.CPUProfile, "")
	if err != nil {
		return err
	}
	var lines []string
	for _, s := range stages {
		secs, err := pprofTotal(ctx, res.CPUProfile, s.re)
		if err != nil {
			return err
		}
		share := stageShare{Stage: s.name, Regexp: s.re, Seconds: secs}
		if total > 0 {
			share.Share = secs / total
		}
		res.Stages = append(res.Stages, share)
		lines = append(lines, fmt.Sprintf("%6.2fs %5.1f%%  %s", secs, share.Share*100, s.name))
	}
	res.Grouped = fmt.Sprintf("%6.2fs 100.0%%  total CPU samples in %.1f s of wall time\n", total, res.Seconds) + strings.Join(lines, "\n")
	return nil
}
