package pipeline

import (
	"errors"
	"testing"
)

// The memory table is bounded: an entry that would take the table's
// partitions past their shared budget is refused, a smaller update or a
// delete frees room, and the budget counts what is held.
func TestMemStore_SharedBudgetBoundsTheTable(t *testing.T) {
	b := &memBudget{max: 3 * entryCost("k0", make([]byte, 20))}
	p0, p1 := newMemStore(b), newMemStore(b)
	for i, st := range []*memStore{p0, p1, p0} {
		if err := st.Set("k"+string(rune('0'+i)), make([]byte, 20)); err != nil {
			t.Fatalf("entry %d within the budget: %v", i, err)
		}
	}
	if err := p1.Set("k3", make([]byte, 20)); !errors.Is(err, errTableFull) {
		t.Fatalf("a fourth entry across partitions: %v, want errTableFull", err)
	}
	if err := p0.Set("k0", make([]byte, 40)); !errors.Is(err, errTableFull) {
		t.Fatalf("a growing update past the budget: %v, want errTableFull", err)
	}
	if v, _ := p0.Get("k0"); len(v) != 20 {
		t.Fatalf("a refused update changed the value (%d bytes)", len(v))
	}
	if err := p0.Set("k0", make([]byte, 5)); err != nil {
		t.Fatalf("a shrinking update: %v", err)
	}
	if err := p1.Delete("k1"); err != nil {
		t.Fatal(err)
	}
	if err := p1.Set("k3", make([]byte, 20)); err != nil {
		t.Fatalf("an entry after room was freed: %v", err)
	}
	if b.keys.Load() != 3 || b.used.Load() != entryCost("k2", make([]byte, 20))+entryCost("k3", make([]byte, 20))+entryCost("k0", make([]byte, 5)) {
		t.Fatalf("budget says %d keys, %d bytes", b.keys.Load(), b.used.Load())
	}
}

// Set keeps its own copy: sarama's values are slices of a fetch buffer.
func TestMemStore_KeepsACopyOfTheValue(t *testing.T) {
	st := newMemStore(&memBudget{max: 1 << 20})
	v := []byte(`{"a":1}`)
	if err := st.Set("k", v); err != nil {
		t.Fatal(err)
	}
	v[2] = 'b'
	if got, _ := st.Get("k"); string(got) != `{"a":1}` {
		t.Fatalf("stored value changed with the caller's buffer: %s", got)
	}
}

// A kept storage outlives a view: goka's Close does nothing, Open and
// MarkRecovered reach the storage once (a second MarkRecovered on goka's
// LevelDB storage would close a closed channel).
func TestKeptStorage_SurvivesAViewsClose(t *testing.T) {
	inner := &countingStorage{memStore: newMemStore(&memBudget{max: 1 << 20})}
	k := &keptStorage{Storage: inner}
	for range 2 {
		k.Open()          //nolint:errcheck // memStore's never fails
		k.MarkRecovered() //nolint:errcheck
		k.Close()         //nolint:errcheck
	}
	if inner.opens != 1 || inner.recovered != 1 || inner.closes != 0 {
		t.Fatalf("opens %d, recovered %d, closes %d; want 1, 1, 0", inner.opens, inner.recovered, inner.closes)
	}
	k.closeFinal() //nolint:errcheck
	if inner.closes != 1 {
		t.Fatalf("closeFinal did not close the storage")
	}
}

type countingStorage struct {
	*memStore
	opens, recovered, closes int
}

func (c *countingStorage) Open() error          { c.opens++; return nil }
func (c *countingStorage) MarkRecovered() error { c.recovered++; return nil }
func (c *countingStorage) Close() error         { c.closes++; return nil }
