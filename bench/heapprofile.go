package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive"
)

// heapResult is where workload 4's memory goes: the backlog run inside
// this process, with a heap profile written each time the heap in use
// reached a new high, so that the last one shows the peak.
type heapResult struct {
	Records     int     `json:"records"`
	PeakHeapMiB float64 `json:"peak_heap_inuse_mib"`
	PeakSysMiB  float64 `json:"peak_sys_mib"` // memory obtained from the OS by the Go runtime
	AtSeconds   float64 `json:"peak_at_seconds"`
	// HeldAtPeak is the records redrive held at the peak (pending and
	// waiting, from its gauges); HeapPerHeldKiB divides the heap in use
	// by them: what one held record really costs, buffers included, the
	// figure behind the pipeline's per-record charge.
	HeldAtPeak     float64 `json:"held_records_at_peak"`
	HeapPerHeldKiB float64 `json:"heap_per_held_record_kib"`
	HeapProfile    string  `json:"heap_profile"`
	Top            string  `json:"top"`
	Cumulative     string  `json:"cumulative"`
	WindowSeconds  float64 `json:"window_seconds"`
}

func (b *bench) heapProfile(ctx context.Context) error {
	w := inProcessRun{topic: "prof-backlog", group: "bench-profile-backlog", prefix: "profb",
		records: b.sz.HeapRecords, enriched: 1, apiSeed: 6, apiDown: true}
	reg := prometheus.NewRegistry()
	r, api, err := b.startInProcess(ctx, w, redrive.WithRegistry(reg))
	if err != nil {
		return err
	}
	defer api.Close()
	res := &heapResult{Records: w.records, HeapProfile: filepath.Join(b.opts.Out, "w4-heap.out")}
	b.res.Heap = res
	runtime.GC() // start from what this process holds without redrive's work
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- r.Run(runCtx) }()

	deadline := start.Add(b.sz.BacklogWindow)
	var doneAt time.Time
	watch := newHeapWatch(res.HeapProfile, func() float64 {
		return gaugeSum(reg, "redrive_partition_pending_records") + gaugeSum(reg, "redrive_partition_waiting_records")
	})
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Now().Before(deadline) && (doneAt.IsZero() || time.Since(doneAt) < 3*time.Second) {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case err := <-errc:
			return fmt.Errorf("the in-process backlog run stopped on its own: %w", err)
		case <-tick.C:
		}
		if err := watch.Check(); err != nil {
			return err
		}
		if doneAt.IsZero() {
			if lag, err := b.kafka.Lag(w.group, w.topic); err == nil && lag == 0 {
				doneAt = time.Now()
			}
		}
	}
	res.WindowSeconds = time.Since(start).Seconds()
	res.PeakHeapMiB, res.PeakSysMiB, res.AtSeconds = watch.PeakMiB, watch.SysMiB, watch.At.Seconds()
	res.HeldAtPeak = watch.HeldAtPeak
	if watch.HeldAtPeak > 0 {
		res.HeapPerHeldKiB = watch.PeakMiB * 1024 / watch.HeldAtPeak
	}
	stop()
	if err := <-errc; err != nil {
		return err
	}
	top, err := pprofText(ctx, "-top", "-nodecount=15", "-sample_index=inuse_space", res.HeapProfile)
	if err != nil {
		return err
	}
	cum, err := pprofText(ctx, "-top", "-cum", "-nodecount=25", "-sample_index=inuse_space", res.HeapProfile)
	if err != nil {
		return err
	}
	res.Top, res.Cumulative = trimPprof(top), trimPprof(cum)
	return nil
}

// gaugeSum adds up every series of the gauge name in reg (0 when absent).
func gaugeSum(reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue()
		}
	}
	return sum
}
