package pipeline

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// checkPrefix completes offsets in the given order and checks after each
// completion that exactly the longest completed prefix has been released,
// in offset order. It is the heart of invariant 1: an offset is committed
// only when every record at or below it is durable.
func checkPrefix(t *testing.T, order []int) {
	t.Helper()
	var tr tracker
	n := len(order)
	var released []int64
	entries := make([]*entry, n)
	for i := range n {
		off := int64(i)
		entries[i] = tr.add(off, time.Time{}, func(err error) {
			if err != nil {
				t.Fatalf("offset %d released with %v", off, err)
			}
			released = append(released, off)
		})
	}
	done := make([]bool, n)
	for _, i := range order {
		done[i] = true
		tr.complete(entries[i], nil)
		prefix := 0
		for prefix < n && done[prefix] {
			prefix++
		}
		if len(released) != prefix {
			t.Fatalf("after completing %d: released %d records, want the completed prefix of %d", i, len(released), prefix)
		}
		for j, off := range released {
			if off != int64(j) {
				t.Fatalf("released out of order: %v", released)
			}
		}
	}
	if tr.outstanding() != 0 {
		t.Fatalf("outstanding %d after all completed", tr.outstanding())
	}
}

func TestInvariant1_TrackerReleasesOnlyTheCompletedPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + rng.IntN(3000) // crosses the compaction threshold
		checkPrefix(t, rng.Perm(n))
	}
}

// FuzzInvariant1_Tracker completes records in an order derived from the
// fuzzer's bytes.
func FuzzInvariant1_Tracker(f *testing.F) {
	f.Add([]byte{3, 1, 2, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := len(b)
		if n == 0 || n > 5000 {
			return
		}
		// Turn the bytes into a permutation: a stable sort of indices by byte.
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		for i := 1; i < n; i++ {
			for j := i; j > 0 && b[order[j]] < b[order[j-1]]; j-- {
				order[j], order[j-1] = order[j-1], order[j]
			}
		}
		checkPrefix(t, order)
	})
}

// After a record that is not durable is released with an error, every later
// record of the topic-partition must carry an error too; otherwise a later
// nil release would commit past the failed one.
func TestTrackerFailurePoisonsEveryLaterRelease(t *testing.T) {
	var tr tracker
	got := map[int64]error{}
	var es []*entry
	for i := range 5 {
		off := int64(i)
		es = append(es, tr.add(off, time.Time{}, func(err error) { got[off] = err }))
	}
	boom := errors.New("upload gave up")
	tr.complete(es[0], nil)
	tr.complete(es[3], nil)
	tr.complete(es[1], boom)
	tr.complete(es[2], nil)
	tr.complete(es[4], nil)
	if got[0] != nil {
		t.Fatalf("offset 0 completed before the failure: got %v", got[0])
	}
	for off := int64(1); off < 5; off++ {
		if !errors.Is(got[off], boom) {
			t.Fatalf("offset %d released with %v, want the failure", off, got[off])
		}
	}
}
