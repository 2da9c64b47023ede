// Command baseline is the bare consumer redrive's benchmark compares against:
// a sarama consumer group that reads a topic from the oldest offset and
// discards the records, or, with -enrich-url, POSTs the matching ones to
// an API with -concurrency requests in flight, the way redrive would call it.
// It reads the high-water marks at start, exits once every partition is
// consumed up to them and every call has returned, after a synchronous
// commit, and prints a JSON summary on stdout. It has none of redrive's
// guarantees (offsets are marked before calls finish): it is the speed of
// reading and calling alone.
//
// With -floor gzip (or zstd) it is the floor of pass-through instead: it
// also does the work that moving a record to S3 cannot avoid, checking that
// each value is a JSON object and appending it with a newline to one
// compressed stream per partition (same library and level as redrive's
// sink), which is then discarded.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/bench/baseline/summary"
)

// config is what the flags say.
type config struct {
	brokers     string
	group       string
	topic       string
	version     string
	enrichURL   string
	concurrency int
	match       string
	timeout     time.Duration
	floor       string // "", "gzip" or "zstd"
	level       int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var c config
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.StringVar(&c.brokers, "brokers", "", "bootstrap brokers, comma-separated")
	fs.StringVar(&c.group, "group", "", "consumer group")
	fs.StringVar(&c.topic, "topic", "", "topic to read")
	fs.StringVar(&c.version, "kafka-version", "3.6.0", "Kafka protocol version (redrive's default)")
	fs.StringVar(&c.enrichURL, "enrich-url", "", "POST the matching records here (empty: call nothing)")
	fs.IntVar(&c.concurrency, "concurrency", 32, "requests in flight at most, and idle connections kept")
	fs.StringVar(&c.match, "match", `"category":"X"`, "a record needs a call when its value contains this")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Second, "timeout of one request")
	fs.StringVar(&c.floor, "floor", "", "also validate each value as a JSON object and compress it, one stream per partition: gzip or zstd (empty: read only)")
	fs.IntVar(&c.level, "level", 1, "gzip level of -floor gzip (redrive's default); zstd uses redrive's zstd level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.brokers == "" || c.group == "" || c.topic == "" {
		return errors.New("-brokers, -group and -topic are required")
	}
	if c.floor != "" && c.floor != "gzip" && c.floor != "zstd" {
		return fmt.Errorf("-floor must be gzip or zstd, got %q", c.floor)
	}
	cfg := sarama.NewConfig()
	v, err := sarama.ParseKafkaVersion(c.version)
	if err != nil {
		return err
	}
	cfg.Version = v
	cfg.ClientID = "redrive-bench-baseline"
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = time.Second // redrive's default commit interval
	cfg.Consumer.Return.Errors = true
	brokers := strings.Split(c.brokers, ",")

	targets, err := highWater(brokers, cfg, c.topic)
	if err != nil {
		return err
	}
	cg, err := sarama.NewConsumerGroup(brokers, c.group, cfg)
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	defer cg.Close()
	go func() {
		for err := range cg.Errors() {
			fmt.Fprintln(os.Stderr, "baseline: consumer:", err)
		}
	}()

	h := newHandler(c, targets)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-h.allRead:
			h.calls.Wait()
			h.mu.Lock()
			h.sum.Done = time.Now()
			h.mu.Unlock()
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{c.topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return fmt.Errorf("consume: %w", err)
		}
	}
	if err := cg.Close(); err != nil { // the last commit
		return fmt.Errorf("closing the group: %w", err)
	}
	h.mu.Lock()
	s := h.sum
	h.mu.Unlock()
	s.Records, s.Calls, s.CallErrors = h.records.Load(), h.ncalls.Load(), h.callErrors.Load()
	s.Invalid, s.Compressed = h.invalid.Load(), h.compressed.Load()
	return json.NewEncoder(stdout).Encode(s)
}

// highWater reads each partition's high-water mark: the baseline is done
// when it has read up to them.
func highWater(brokers []string, cfg *sarama.Config, topic string) (map[int32]int64, error) {
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	for _, p := range parts {
		if out[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			return nil, fmt.Errorf("high-water mark of %s/%d: %w", topic, p, err)
		}
	}
	return out, nil
}

// handler consumes the claims: mark, and hand matching records to the
// callers.
type handler struct {
	cfg     config
	targets map[int32]int64
	http    *http.Client
	jobs    chan []byte
	calls   sync.WaitGroup // one per call queued and not finished

	records, ncalls, callErrors atomic.Int64
	invalid, compressed         atomic.Int64 // -floor
	remaining                   atomic.Int64 // partitions not yet read up to their target
	allRead                     chan struct{}
	once                        sync.Once
	doneParts                   sync.Map // partition → struct{}{}

	mu  sync.Mutex
	sum summary.Summary
}

func newHandler(c config, targets map[int32]int64) *handler {
	h := &handler{cfg: c, targets: targets, allRead: make(chan struct{})}
	for p, t := range targets {
		if t > 0 {
			h.remaining.Add(1)
		} else {
			h.doneParts.Store(p, struct{}{})
		}
	}
	if h.remaining.Load() == 0 {
		close(h.allRead)
	}
	if c.enrichURL != "" {
		h.http = &http.Client{
			Timeout: c.timeout,
			Transport: &http.Transport{
				MaxIdleConns:        c.concurrency,
				MaxIdleConnsPerHost: c.concurrency,
				MaxConnsPerHost:     c.concurrency,
				IdleConnTimeout:     90 * time.Second,
			},
		}
		h.jobs = make(chan []byte, c.concurrency)
		for range c.concurrency {
			go h.caller()
		}
	}
	return h
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim reads one partition; a blocked send to the callers is the
// backpressure (the baseline has no windows to respect).
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	target := h.targets[claim.Partition()]
	var fl *floorStream
	if h.cfg.floor != "" {
		var err error
		if fl, err = newFloorStream(h.cfg.floor, h.cfg.level); err != nil {
			return err
		}
		defer func() { h.compressed.Add(fl.close()) }()
	}
	for msg := range claim.Messages() {
		if fl != nil && !fl.add(msg.Value) {
			h.invalid.Add(1)
		}
		if h.records.Add(1) == 1 {
			h.mu.Lock()
			h.sum.FirstRecord = time.Now()
			h.mu.Unlock()
		}
		if h.jobs != nil && bytes.Contains(msg.Value, []byte(h.cfg.match)) {
			h.calls.Add(1)
			select {
			case h.jobs <- msg.Value:
			case <-sess.Context().Done():
				h.calls.Done()
				return nil
			}
		}
		sess.MarkMessage(msg, "")
		if msg.Offset+1 >= target {
			if _, seen := h.doneParts.LoadOrStore(msg.Partition, struct{}{}); !seen && h.remaining.Add(-1) == 0 {
				sess.Commit()
				h.once.Do(func() { close(h.allRead) })
			}
		}
	}
	return nil
}

// caller makes the API calls, one at a time.
func (h *handler) caller() {
	for body := range h.jobs {
		if err := h.call(body); err != nil {
			h.callErrors.Add(1)
		}
		h.ncalls.Add(1)
		h.calls.Done()
	}
}

func (h *handler) call(body []byte) error {
	resp, err := h.http.Post(h.cfg.enrichURL, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !json.Valid(answer) {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
