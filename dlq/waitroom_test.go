package dlq

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The wait room hands each record over at its not-before time, earliest
// first, never before. synctest's fake clock makes this exact without
// sleeping for real.
func TestWaitRoomHandsRecordsOverWhenDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		type got struct {
			id int
			at time.Time
		}
		var out []got
		start := time.Now()
		w := NewWaitRoom(func(id int) {
			mu.Lock()
			out = append(out, got{id, time.Now()})
			mu.Unlock()
		})
		due := map[int]time.Duration{1: 3 * time.Second, 2: time.Second, 3: 2 * time.Second, 4: time.Second, 5: -time.Second}
		for _, id := range []int{1, 2, 3, 4, 5} {
			w.Add(start.Add(due[id]), id)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		wantOrder := []int{5, 2, 4, 3, 1}
		if len(out) != len(wantOrder) {
			t.Fatalf("handed over %d records, want %d", len(out), len(wantOrder))
		}
		for i, g := range out {
			if g.id != wantOrder[i] {
				t.Fatalf("order %v, want %v", out, wantOrder)
			}
			if want := start.Add(max(due[g.id], 0)); !g.at.Equal(want) {
				t.Fatalf("record %d handed over at +%s, want +%s", g.id, g.at.Sub(start), want.Sub(start))
			}
		}
		if w.Len() != 0 {
			t.Fatalf("%d records left", w.Len())
		}
	})
}

func TestWaitRoomCountsAndCloseReturnsWhatIsHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		called := false
		w := NewWaitRoom(func(int) { called = true })
		later := time.Now().Add(time.Hour)
		w.Add(later, 1)
		w.Add(later.Add(time.Second), 2)
		w.Add(later.Add(-time.Second), 3)
		if w.Len() != 3 {
			t.Fatalf("Len = %d, want 3", w.Len())
		}
		held := w.Close()
		if len(held) != 3 || held[0] != 3 || held[1] != 1 || held[2] != 2 {
			t.Fatalf("Close returned %v, want [3 1 2] (earliest first)", held)
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if called {
			t.Fatal("callback ran after Close")
		}
	})
}
