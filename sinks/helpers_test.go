package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// memStore is a Store double that records objects, counts concurrent Puts, and can
// block or fail Puts.
type memStore struct {
	// block, when it returns a channel for a key, makes Put wait until that channel
	// is closed (or ctx ends).
	block func(key string) chan struct{}
	// fail, when non-nil, decides whether the n-th attempt (1-based) for key fails.
	fail func(key string, n int) error

	mu          sync.Mutex
	objects     map[string][]byte
	contentType map[string]string
	encoding    map[string]string
	attempts    map[string]int
	inflight    int
	maxInflight int
}

func newMemStore() *memStore {
	return &memStore{
		objects:     map[string][]byte{},
		contentType: map[string]string{},
		encoding:    map[string]string{},
		attempts:    map[string]int{},
	}
}

func (s *memStore) Put(ctx context.Context, key string, body []byte, contentType, contentEncoding string) error {
	s.mu.Lock()
	s.attempts[key]++
	n := s.attempts[key]
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if s.block != nil {
		if ch := s.block(key); ch != nil {
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if s.fail != nil {
		if err := s.fail(key, n); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = bytes.Clone(body)
	s.contentType[key] = contentType
	s.encoding[key] = contentEncoding
	return nil
}

func (s *memStore) Check(context.Context) error { return nil }
func (s *memStore) String() string              { return "mem://test" }

// keys returns the stored keys, sorted.
func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.objects))
	for k := range s.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objects)
}

func (s *memStore) inflightNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight
}

func (s *memStore) object(t *testing.T, key string) []byte {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	body, ok := s.objects[key]
	if !ok {
		t.Fatalf("no object %q; have %v", key, s.objects)
	}
	return body
}

// lines decodes an object body into its lines.
func lines(t *testing.T, body []byte, gzipped bool) []string {
	t.Helper()
	if gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		body, err = io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		t.Fatalf("body does not end with a newline: %q", body)
	}
	return strings.Split(string(body[:len(body)-1]), "\n")
}

// doneLog records every Done call per offset.
type doneLog struct {
	mu    sync.Mutex
	calls map[string][]error
}

func newDoneLog() *doneLog { return &doneLog{calls: map[string][]error{}} }

func doneID(topic string, partition int32, offset int64) string {
	return fmt.Sprintf("%s/%d@%d", topic, partition, offset)
}

// item makes an Item whose Done is recorded and whose line names its coordinates.
func (d *doneLog) item(topic string, partition int32, offset int64) Item {
	id := doneID(topic, partition, offset)
	return Item{
		Topic: topic, Partition: partition, Offset: offset,
		Line: []byte(fmt.Sprintf(`{"id":%q}`, id)),
		Done: func(err error) {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.calls[id] = append(d.calls[id], err)
		},
	}
}

func (d *doneLog) callsOf(topic string, partition int32, offset int64) []error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]error(nil), d.calls[doneID(topic, partition, offset)]...)
}

// total returns how many Done calls were made in all.
func (d *doneLog) total() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		n += len(c)
	}
	return n
}

// requireOnce fails unless Done of the item was called exactly once, with nil when
// wantNil, else with an error wrapping want.
func (d *doneLog) requireOnce(t *testing.T, topic string, partition int32, offset int64, want error) {
	t.Helper()
	calls := d.callsOf(topic, partition, offset)
	if len(calls) != 1 {
		t.Fatalf("Done of %s called %d times, want exactly once: %v", doneID(topic, partition, offset), len(calls), calls)
	}
	switch {
	case want == nil && calls[0] != nil:
		t.Fatalf("Done of %s got %v, want nil", doneID(topic, partition, offset), calls[0])
	case want != nil && !errors.Is(calls[0], want):
		t.Fatalf("Done of %s got %v, want an error wrapping %v", doneID(topic, partition, offset), calls[0], want)
	}
}

// testConfig is a small, fast configuration; MaxAge is long so that only the test
// decides when batches seal by age.
func testConfig() Config {
	return Config{
		MaxRecords:   1000,
		MaxAge:       time.Hour,
		RetryInitial: time.Millisecond,
		RetryMax:     5 * time.Millisecond,
		MaxUploads:   4,
	}
}

// newTestBatcher builds a Batcher and closes it at the end of the test.
func newTestBatcher(t *testing.T, cfg Config, store Store, opts ...Option) *Batcher {
	t.Helper()
	b, err := NewBatcher(cfg, store, opts...)
	if err != nil {
		t.Fatalf("NewBatcher: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = withinDeadline(t, "Close at cleanup", func() error { return b.Close(ctx) })
	})
	return b
}

func flush(t *testing.T, b *Batcher, topic string, partition int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.FlushPartition(ctx, topic, partition); err != nil {
		t.Fatalf("FlushPartition(%s, %d): %v", topic, partition, err)
	}
}

// sealedCount returns the batches sealed and not yet finished.
func (b *Batcher) sealedCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, set := range b.inflight {
		n += len(set)
	}
	return n
}

// queued returns the batches waiting for an upload slot.
func (b *Batcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// meta returns the content type and encoding an object was stored with.
func (s *memStore) meta(key string) (contentType, contentEncoding string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contentType[key], s.encoding[key]
}

// attemptsOf returns how many Puts were tried for key.
func (s *memStore) attemptsOf(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[key]
}

// metricValue reads the value of a single counter or gauge. (prometheus/testutil
// would need a module that is not in go.sum.)
func metricValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatalf("read metric: %v", err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("metric is neither a counter nor a gauge: %v", &m)
	return 0
}

// withinDeadline runs f and fails the test if it has not returned by a generous
// deadline: a give-up that forgets a batch would otherwise hang the test binary.
func withinDeadline(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// keyContaining returns some key a Put was tried for that contains sub, or "".
func (s *memStore) keyContaining(sub string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.attempts {
		if strings.Contains(k, sub) {
			return k
		}
	}
	return ""
}

// readBack reads every object under prefix with ReadBatches, as a reader
// downstream would: their keys, and their lines in order.
func readBack(t *testing.T, client *s3.Client, bucket, prefix string) (keys, lines []string) {
	t.Helper()
	err := ReadBatches(context.Background(), client, bucket, prefix, func(o Object) error {
		keys = append(keys, o.Key)
		ls, err := o.Lines()
		for _, l := range ls {
			lines = append(lines, string(l))
		}
		return err
	})
	if err != nil {
		t.Fatalf("ReadBatches: %v", err)
	}
	return keys, lines
}
