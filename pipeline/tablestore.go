package pipeline

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lovoo/goka/storage"
)

// errTableFull is returned by a memory table store that would exceed its
// byte budget; the view's update callback refuses the entry instead of
// failing (which would stop the view).
var errTableFull = errors.New("lookup table is at its memory bound")

// tableEntryOverhead is what one entry of the memory store costs beyond
// its key and value bytes: the map's bucket slot, the string and slice
// headers and the allocator's rounding, about 80 bytes on 64-bit Go.
const tableEntryOverhead = 80

// memBudget is the byte budget shared by the memory stores of one table's
// partitions, so that the bound is per table, not per partition.
type memBudget struct {
	max  int64
	used atomic.Int64
	keys atomic.Int64
}

// memStore is a partition of the lookup table in memory. goka's own memory
// storage re-sorts every key on each insert (quadratic over a table's
// recovery) and has no bound; this one is a plain map charged to a budget.
// It is safe for concurrent readers with one writer, as goka requires.
type memStore struct {
	budget *memBudget

	mu     sync.RWMutex
	m      map[string][]byte
	offset *int64
}

func newMemStore(b *memBudget) *memStore { return &memStore{budget: b, m: map[string][]byte{}} }

func entryCost(key string, value []byte) int64 {
	return int64(len(key) + len(value) + tableEntryOverhead)
}

func (s *memStore) Open() error          { return nil }
func (s *memStore) Close() error         { return nil }
func (s *memStore) MarkRecovered() error { return nil }

func (s *memStore) Has(key string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.m[key]
	return ok, nil
}

func (s *memStore) Get(key string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[key], nil
}

// Set keeps a copy of value: sarama's values are slices of a whole fetch
// response, which a kept slice would pin in memory. An entry that would
// take the table past its budget is refused with errTableFull.
func (s *memStore) Set(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.m[key]
	delta := entryCost(key, value)
	if exists {
		delta -= entryCost(key, old)
	}
	if delta > 0 && s.budget.used.Load()+delta > s.budget.max {
		return errTableFull
	}
	s.budget.used.Add(delta)
	if !exists {
		s.budget.keys.Add(1)
	}
	s.m[key] = bytes.Clone(value)
	return nil
}

func (s *memStore) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[key]; ok {
		s.budget.used.Add(-entryCost(key, old))
		s.budget.keys.Add(-1)
		delete(s.m, key)
	}
	return nil
}

func (s *memStore) GetOffset(def int64) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.offset == nil {
		return def, nil
	}
	return *s.offset, nil
}

func (s *memStore) SetOffset(offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = &offset
	return nil
}

func (s *memStore) Iterator() (storage.Iterator, error) { return s.IteratorWithRange(nil, nil) }

// IteratorWithRange iterates over a sorted snapshot of [start, limit).
// Nothing in redrive iterates the table; goka's interface asks for it.
func (s *memStore) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it := &memIter{pos: -1, values: map[string][]byte{}}
	for k, v := range s.m {
		if (start == nil || k >= string(start)) && (limit == nil || k < string(limit)) {
			it.keys = append(it.keys, k)
			it.values[k] = v
		}
	}
	slices.Sort(it.keys)
	return it, nil
}

// memIter iterates over a snapshot of a memStore.
type memIter struct {
	pos    int
	keys   []string
	values map[string][]byte
}

func (i *memIter) Next() bool  { i.pos++; return i.pos < len(i.keys) }
func (i *memIter) Err() error  { return nil }
func (i *memIter) Release()    { i.pos = len(i.keys) }
func (i *memIter) Key() []byte { return []byte(i.keys[i.pos]) }
func (i *memIter) Value() ([]byte, error) {
	return i.values[i.keys[i.pos]], nil
}
func (i *memIter) Seek(key []byte) bool {
	i.pos, _ = slices.BinarySearch(i.keys, string(key))
	i.pos-- // Next moves onto it
	return i.pos+1 < len(i.keys)
}

// keptStorage outlives the goka View that uses it. goka builds, opens and
// closes a partition's storage on every View run, and a View cannot run
// twice; the table's supervisor builds a new View after a fault, and with
// kept storages the new one resumes from the stored offsets while lookups
// go on answering from what was loaded. Open and MarkRecovered reach the
// storage once (goka's LevelDB storage starts a goroutine in Open and
// closes a channel in MarkRecovered); Close waits for the table's own
// close.
type keptStorage struct {
	storage.Storage
	openOnce, recoveredOnce sync.Once
	openErr, recoveredErr   error
}

func (k *keptStorage) Open() error {
	k.openOnce.Do(func() { k.openErr = k.Storage.Open() })
	return k.openErr
}

func (k *keptStorage) MarkRecovered() error {
	k.recoveredOnce.Do(func() { k.recoveredErr = k.Storage.MarkRecovered() })
	return k.recoveredErr
}

// Close does nothing: the table closes the storage itself (closeFinal).
func (k *keptStorage) Close() error { return nil }

func (k *keptStorage) closeFinal() error { return k.Storage.Close() }
