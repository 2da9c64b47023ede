package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/IBM/sarama"
	"github.com/cenkalti/backoff/v4"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/ctxwait"
	"github.com/redrive-io/redrive/internal/metric"
)

// TableConfig configures the lookup table kept from a compacted topic.
type TableConfig struct {
	// Topic is the compacted topic: key → JSON value. Required.
	Topic string
	// Dir keeps the table on disk (LevelDB, one database per partition,
	// through goka's storage builder) instead of in memory. Default ""
	// (memory).
	Dir string
	// MaxBytes bounds the table in memory: keys and values plus about 80
	// bytes per entry (tableEntryOverhead). An entry that would exceed it
	// is refused and its key reads as a miss (counted, logged). Ignored
	// with Dir. Default 256 MiB.
	MaxBytes int
}

// SetDefaults fills zero fields with their documented defaults.
func (c *TableConfig) SetDefaults() {
	if c.MaxBytes == 0 {
		c.MaxBytes = 256 << 20
	}
}

// Validate reports the first setting that cannot work, naming its flag.
func (c TableConfig) Validate() error {
	switch {
	case c.Topic == "":
		return errors.New("lookup-topic: required")
	case c.MaxBytes < 1<<20:
		return fmt.Errorf("lookup-max-bytes: %d is too small (at least 1MiB)", c.MaxBytes)
	}
	return nil
}

// tableProgressInterval is how often the table logs its recovery.
const tableProgressInterval = 5 * time.Second

// Table is the lookup table: a goka View over a compacted topic, read by
// key. goka's View.Run returns on any error; Run supervises it the way the
// consumer-group supervisor does the session: a transient fault (see
// ClassifyKafka) builds a new View with backoff, which resumes from the
// offsets its storages kept, while lookups go on answering from what was
// loaded. Only a fatal fault ends Run.
//
// The input topic is not keyed like the table, so lookups do not go
// through goka's partition hashing (FNV-32a; upstream Java producers use
// murmur2): a key is looked up in every partition of the table, the
// FNV-32a one first.
type Table struct {
	cfg     TableConfig
	brokers []string
	sarama  *sarama.Config
	log     *slog.Logger
	extra   []goka.ViewOption
	// newBackoff makes the backoff between failed views; tests shorten it.
	newBackoff func() backoff.BackOff

	budget memBudget

	storesMu sync.RWMutex
	stores   []*keptStorage // by partition

	view      atomic.Pointer[goka.View] // the running view, nil between runs
	recovered chan struct{}             // closed when the table first caught up
	recOnce   sync.Once
	started   time.Time

	reg       prometheus.Registerer
	refused   *prometheus.CounterVec
	outage    *outage
	refuseLog *logSampler
}

// TableOption passes a collaborator to NewTable.
type TableOption func(*Table)

// WithTableLogger sets the logger. Default: discard.
func WithTableLogger(l *slog.Logger) TableOption { return func(t *Table) { t.log = l } }

// WithTableRegisterer registers the table's metrics with reg. Default: a
// private registry.
func WithTableRegisterer(reg prometheus.Registerer) TableOption {
	return func(t *Table) { t.reg = reg }
}

// WithTableViewOptions adds goka view options, applied after the table's
// own builders (goka.WithViewTester in tests). The table's storage builder
// is always applied last.
func WithTableViewOptions(opts ...goka.ViewOption) TableOption {
	return func(t *Table) { t.extra = append(t.extra, opts...) }
}

// NewTable returns a table that reads cfg.Topic from brokers with base's
// settings (TLS, SASL, version). Nothing is read until Run.
func NewTable(cfg TableConfig, brokers []string, base *sarama.Config, opts ...TableOption) (*Table, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Table{
		cfg: cfg, brokers: brokers, log: slog.New(slog.DiscardHandler),
		newBackoff: newRetryBackoff, recovered: make(chan struct{}),
	}
	if base != nil {
		c := *base
		c.ClientID = base.ClientID + "-table"
		t.sarama = &c
	}
	t.budget.max = int64(cfg.MaxBytes)
	for _, o := range opts {
		o(t)
	}
	if t.reg == nil {
		t.reg = prometheus.NewRegistry()
	}
	t.registerMetrics()
	t.refuseLog = newLogSampler(10*time.Second, time.Now)
	return t, nil
}

func (t *Table) registerMetrics() {
	f := metric.With(t.reg)
	t.refused = f.CounterVec("redrive_lookup_table_refused_total",
		"Table records not kept, by reason: invalid_json (the value is not JSON) or full (the memory table is at --lookup-max-bytes). Their keys read as misses.",
		"reason")
	t.outage = newOutage(t.log.With("topic", t.cfg.Topic), time.Now, f, outageWords{
		metric:       "redrive_lookup_table",
		upHelp:       "1 while the lookup table's view has caught up with its topic and follows it.",
		restartsHelp: "Views of the lookup table lost to a Kafka fault and rebuilt, by cause.",
		what:         "lookup table view",
		lost:         "lookup table view lost; rebuilding with backoff (lookups answer from what was loaded)",
		back:         "lookup table view rebuilt and caught up",
	})
	f.GaugeFunc("redrive_lookup_table_keys",
		"Keys held by the lookup table in memory (0 with --lookup-dir).",
		func() float64 { return float64(t.budget.keys.Load()) })
	f.GaugeFunc("redrive_lookup_table_bytes",
		"Bytes the lookup table holds in memory, as charged against --lookup-max-bytes (0 with --lookup-dir).",
		func() float64 { return float64(t.budget.used.Load()) })
}

// Recovered is closed once the table has first caught up with its topic.
func (t *Table) Recovered() <-chan struct{} { return t.recovered }

// HasRecovered reports whether the table has caught up once.
func (t *Table) HasRecovered() bool { return ctxwait.Closed(t.recovered) }

// Up reports whether the current view has caught up and follows the topic
// (readiness).
func (t *Table) Up() bool {
	v := t.view.Load()
	return v != nil && v.CurrentState() == goka.ViewStateRunning
}

// Get returns the table's value for key. found is false when no partition
// holds it.
func (t *Table) Get(key string) (value json.RawMessage, found bool, err error) {
	t.storesMu.RLock()
	stores := t.stores
	t.storesMu.RUnlock()
	if len(stores) == 0 {
		return nil, false, nil
	}
	// Where goka and sarama put the key (FNV-1a), then where a Java
	// producer puts it (murmur2), then the other partitions.
	n := len(stores)
	fnv, java := fnvPartition(key, n), javaPartition(key, n)
	get := func(p int) (json.RawMessage, error) {
		if stores[p] == nil {
			return nil, nil
		}
		v, err := stores[p].Get(key)
		if err != nil {
			return nil, fmt.Errorf("lookup table %s: %w", t.cfg.Topic, err)
		}
		return v, nil
	}
	if v, err := get(fnv); v != nil || err != nil {
		return v, v != nil, err
	}
	if java != fnv {
		if v, err := get(java); v != nil || err != nil {
			return v, v != nil, err
		}
	}
	for p := range n {
		if p == fnv || p == java {
			continue
		}
		if v, err := get(p); v != nil || err != nil {
			return v, v != nil, err
		}
	}
	return nil, false, nil
}

// javaPartition is where a Java producer's default partitioner puts key:
// murmur2 of its bytes, the sign bit masked (Kafka's Utils.murmur2 and
// toPositive). franz-go's kgo has it too, but importing kgo for it would
// add 3.4 MB to the binary; TestJavaPartitionMatchesKafkas compares the two.
func javaPartition(key string, n int) int {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
	)
	h := seed ^ uint32(len(key))
	i := 0
	for ; i+4 <= len(key); i += 4 {
		k := uint32(key[i]) | uint32(key[i+1])<<8 | uint32(key[i+2])<<16 | uint32(key[i+3])<<24
		k *= m
		k ^= k >> 24
		k *= m
		h *= m
		h ^= k
	}
	switch len(key) - i {
	case 3:
		h ^= uint32(key[i+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[i+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[i])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int(h&0x7fffffff) % n
}

// fnvPartition is where goka and sarama's default partitioner put key.
func fnvPartition(key string, n int) int {
	h := fnv.New32a()
	_, _ = io.WriteString(h, key)
	p := int32(h.Sum32())
	if p < 0 {
		p = -p
	}
	return int(p % int32(n))
}

// storageBuilder returns the partition's kept storage, building it on
// first use: in memory, or in LevelDB under Dir.
func (t *Table) storageBuilder() storage.Builder {
	var disk storage.Builder
	if t.cfg.Dir != "" {
		disk = storage.DefaultBuilder(t.cfg.Dir)
	}
	return func(topic string, partition int32) (storage.Storage, error) {
		t.storesMu.Lock()
		defer t.storesMu.Unlock()
		if int(partition) < len(t.stores) && t.stores[partition] != nil {
			return t.stores[partition], nil
		}
		var st storage.Storage = newMemStore(&t.budget)
		if disk != nil {
			var err error
			if st, err = disk(topic, partition); err != nil {
				return nil, fmt.Errorf("lookup-dir %s: %w", t.cfg.Dir, err)
			}
		}
		kept := &keptStorage{Storage: st}
		stores := slices.Clone(t.stores) // Get reads the old slice unlocked
		for len(stores) <= int(partition) {
			stores = append(stores, nil)
		}
		stores[partition] = kept
		t.stores = stores
		return kept, nil
	}
}

// update is the view's update callback: a tombstone deletes the key, a
// value that is not JSON or that does not fit is refused (the key then
// reads as a miss, never as a stale value). It never returns an error for
// a record's content: that would stop the view.
func (t *Table) update(_ goka.UpdateContext, s storage.Storage, key string, value []byte) error {
	if value == nil {
		return s.Delete(key)
	}
	reason := ""
	if !json.Valid(value) || !utf8.Valid(value) { // JSON is UTF-8; encoding/json lets other bytes through
		reason = "invalid_json"
	} else if err := s.Set(key, value); errors.Is(err, errTableFull) {
		reason = "full"
	} else if err != nil {
		return err
	}
	if reason == "" {
		return nil
	}
	t.refused.WithLabelValues(reason).Inc()
	if ok, suppressed := t.refuseLog.allow(reason); ok {
		msg := "lookup table record is not JSON; its key reads as a miss"
		if reason == "full" {
			msg = "lookup table is at --lookup-max-bytes; a key is not kept and reads as a miss (raise the bound or use --lookup-dir)"
		}
		t.log.Error(msg, "topic", t.cfg.Topic, "key", key, "max_bytes", t.cfg.MaxBytes, "same_reason_not_logged", suppressed)
	}
	return s.Delete(key)
}

// Run keeps a view of the table running until ctx ends (nil) or a fault
// that retrying cannot fix (returned, naming the flag).
func (t *Table) Run(ctx context.Context) error {
	t.started = time.Now()
	b := backoff.WithContext(t.newBackoff(), ctx)
	for {
		err := t.runOnce(ctx, b.Reset)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("view stopped without an error")
		}
		if retry, fatal := t.outage.failed(ctx, b, err); !retry {
			if fatal != nil {
				return fmt.Errorf("lookup-topic %s: %w", t.cfg.Topic, fatal)
			}
			return nil
		}
	}
}

// runOnce builds one view and runs it until it returns; caughtUp runs when
// it has caught up with the topic.
func (t *Table) runOnce(ctx context.Context, caughtUp func()) error {
	var closers closerList
	defer closers.close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := goka.NewView(t.brokers, goka.Table(t.cfg.Topic), new(codec.Bytes), t.viewOptions(runCtx.Done(), &closers)...)
	if err != nil {
		return err
	}
	t.view.Store(v)
	defer t.view.Store(nil)
	done := make(chan error, 1)
	go func() { done <- v.Run(runCtx) }()
	running := v.WaitRunning()
	tick := time.NewTicker(tableProgressInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			t.outage.down()
			return err
		case <-running:
			running = nil
			t.outage.back()
			t.markRecovered()
			caughtUp()
		case <-tick.C:
			if !t.HasRecovered() {
				t.logProgress(ctx, v)
			}
		}
	}
}

// markRecovered closes Recovered the first time the table caught up.
func (t *Table) markRecovered() {
	t.recOnce.Do(func() {
		t.log.Info("lookup table recovered", "topic", t.cfg.Topic, "keys", t.budget.keys.Load(),
			"bytes", t.budget.used.Load(), "took", time.Since(t.started).Round(time.Millisecond).String())
		close(t.recovered)
	})
}

// logProgress logs how far the first recovery is: partitions caught up,
// and offsets loaded against the high-water marks.
func (t *Table) logProgress(ctx context.Context, v *goka.View) {
	stats := v.Stats(ctx)
	var done, parts int
	var loaded, total int64
	for _, ps := range stats.Partitions {
		parts++
		if ps.Status == goka.PartitionRunning {
			done++
		}
		if ps.Recovery != nil {
			loaded += max(ps.Recovery.Offset, 0)
			total += ps.Recovery.Hwm
		}
	}
	t.log.Info("lookup table recovering; not ready until it has caught up", "topic", t.cfg.Topic,
		"partitions_caught_up", fmt.Sprintf("%d/%d", done, parts), "offset", loaded, "high_water_mark", total,
		"keys", t.budget.keys.Load(), "bytes", t.budget.used.Load())
}

// viewOptions are the builders of one view: clients with the table's
// sarama settings (closed by closers when the view is done: goka's View
// closes neither), goka's logs through slog, then any extra options, then
// the kept storages.
func (t *Table) viewOptions(stop <-chan struct{}, closers *closerList) []goka.ViewOption {
	opts := []goka.ViewOption{goka.WithViewLogger(gokaLogger{t.log.With("component", "goka-view")})}
	if t.sarama != nil {
		cfg := t.sarama
		opts = append(opts,
			goka.WithViewConsumerSaramaBuilder(func(brokers []string, clientID string) (sarama.Consumer, error) {
				c := *cfg
				consumer, err := sarama.NewConsumer(brokers, &c)
				if err == nil {
					closers.add(consumer)
				}
				return consumer, err
			}),
			goka.WithViewTopicManagerBuilder(func(brokers []string) (goka.TopicManager, error) {
				c := *cfg
				tm, err := goka.NewTopicManager(brokers, &c, goka.NewTopicManagerConfig())
				if err != nil {
					return nil, err
				}
				end, err := newReadableEndTM(tm, brokers, *cfg, stop)
				if err != nil {
					return nil, errors.Join(err, tm.Close())
				}
				closers.add(end)
				return end, nil
			}),
		)
	}
	opts = append(opts, t.extra...)
	return append(opts, goka.WithViewCallback(t.update), goka.WithViewStorageBuilder(t.storageBuilder()))
}

// Close closes the table's storages (LevelDB databases). Call it after
// Run returned.
func (t *Table) Close() error {
	t.storesMu.Lock()
	defer t.storesMu.Unlock()
	var errs []error
	for _, st := range t.stores {
		if st != nil {
			errs = append(errs, st.closeFinal())
		}
	}
	t.stores = nil
	return errors.Join(errs...)
}

// closerList closes what one view's builders opened.
type closerList struct {
	mu sync.Mutex
	cs []io.Closer
}

func (l *closerList) add(c io.Closer) {
	l.mu.Lock()
	l.cs = append(l.cs, c)
	l.mu.Unlock()
}

func (l *closerList) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.cs {
		c.Close() //nolint:errcheck // the view is done; nothing is left to tell
	}
	l.cs = nil
}

// CheckTableTopic checks at start-up that the lookup topic exists (a
// missing one is refused, naming the flag: goka's View would only report
// it as text, which the supervisor could not tell from a transient fault)
// and logs a warning when it is not compacted: the table then loses keys
// to retention, and recovery reads every update ever kept.
func CheckTableTopic(log *slog.Logger, admin sarama.ClusterAdmin, topic string) error {
	metas, err := admin.DescribeTopics([]string{topic})
	if err != nil {
		return fmt.Errorf("lookup-topic: describing topic %s: %w", topic, err)
	}
	for _, m := range metas {
		switch {
		case errors.Is(m.Err, sarama.ErrUnknownTopicOrPartition):
			return fmt.Errorf("lookup-topic: topic %q does not exist; create it with cleanup.policy=compact and fill it with key → JSON value records", topic)
		case m.Err != sarama.ErrNoError:
			return fmt.Errorf("lookup-topic: describing topic %s: %w", topic, m.Err)
		}
	}
	c, err := describeTopic(admin, topic)
	if err != nil {
		return fmt.Errorf("lookup-topic: %w", err)
	}
	if !strings.Contains(c.cleanupPolicy, "compact") {
		log.Warn("the lookup topic is not compacted: retention may delete keys the table needs, and recovery reads every update kept",
			"topic", topic, "cleanup.policy", c.cleanupPolicy,
			"fix", fmt.Sprintf("kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact", topic))
	}
	return nil
}
