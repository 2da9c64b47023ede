package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// heapWatch follows this process's heap during an in-process run and
// writes a heap profile each time the heap in use reaches a new high, so
// that the file left at the end shows the peak.
type heapWatch struct {
	path    string
	start   time.Time
	PeakMiB float64 // heap in use
	SysMiB  float64 // obtained from the OS by the runtime
	At      time.Duration
	// HeldAtPeak is what held() returned at the peak.
	HeldAtPeak float64
	held       func() float64
}

// newHeapWatch watches the heap; held, if not nil, counts the records the
// pipeline holds, read at each new peak.
func newHeapWatch(path string, held func() float64) *heapWatch {
	return &heapWatch{path: path, start: time.Now(), held: held}
}

// Check reads the memory statistics (a short stop of the world) and
// writes the profile at a new high.
func (h *heapWatch) Check() error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.SysMiB = max(h.SysMiB, mib(int64(ms.Sys)))
	if v := mib(int64(ms.HeapInuse)); v > h.PeakMiB {
		h.PeakMiB, h.At = v, time.Since(h.start)
		if h.held != nil {
			h.HeldAtPeak = h.held()
		}
		return writeHeap(h.path)
	}
	return nil
}

// writeHeap writes the heap profile (in-use figures as of the last GC).
func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
