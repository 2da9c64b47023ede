package redrive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// Option replaces a collaborator of a running topology, mostly in tests.
type Option func(*options)

type options struct {
	log      *slog.Logger
	registry *prometheus.Registry
	s3       sinks.S3API
	http     *http.Client
}

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegistry sets the Prometheus registry served on /metrics. Default: a
// fresh registry with the Go and process collectors.
func WithRegistry(r *prometheus.Registry) Option { return func(o *options) { o.registry = r } }

// WithS3Client replaces the S3 client built from Topology.S3.Client.
func WithS3Client(c sinks.S3API) Option { return func(o *options) { o.s3 = c } }

// WithEnrichHTTPClient replaces the enrichment API's HTTP client.
func WithEnrichHTTPClient(c *http.Client) Option { return func(o *options) { o.http = c } }

// Runner is a started topology: connected, topics checked, bucket checked.
type Runner struct {
	topo     Topology
	log      *slog.Logger
	proc     *pipeline.Processor
	goka     *goka.Processor
	producer *pipeline.Producer
	sink     *sinks.Batcher
	store    sinks.Store
	enricher *enrich.Client
	http     *http.Server
	ln       net.Listener

	closeOnce sync.Once
	closeErr  error
}

// Run starts the topology and runs it until ctx ends, then stops gracefully.
func (t Topology) Run(ctx context.Context, opts ...Option) error {
	r, err := t.Start(ctx, opts...)
	if err != nil {
		return err
	}
	return r.Run(ctx)
}

// Start validates the topology, connects to Kafka, checks (or creates) the
// topics, checks the output, and builds the goka processor. Nothing is
// consumed until Run.
func (t Topology) Start(ctx context.Context, opts ...Option) (_ *Runner, err error) {
	t.SetDefaults()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.registry == nil {
		o.registry = prometheus.NewRegistry()
		o.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	r := &Runner{topo: t, log: o.log}
	defer func() {
		if err != nil {
			r.closeAll(context.Background())
		}
	}()

	saramaCfg, err := t.Kafka.SaramaConfig()
	if err != nil {
		return nil, err
	}
	if err := r.checkTopics(saramaCfg); err != nil {
		return nil, err
	}
	t = r.topo // checkTopics learned the parking topic's partition count

	if err := r.openSink(ctx, o); err != nil {
		return nil, err
	}

	var matcher pipeline.Matcher
	if t.Enrich.When != "" {
		rule, err := enrich.CompileRule(t.Enrich.When)
		if err != nil {
			return nil, fmt.Errorf("enrich-when: %w", err)
		}
		eopts := []enrich.Option{enrich.WithLogger(o.log), enrich.WithRegisterer(o.registry)}
		if o.http != nil {
			eopts = append(eopts, enrich.WithHTTPClient(o.http))
		}
		if r.enricher, err = enrich.New(t.Enrich.Client, eopts...); err != nil {
			return nil, err
		}
		matcher = rule
	}

	if r.producer, err = pipeline.NewProducer(t.Kafka.Brokers, saramaCfg); err != nil {
		return nil, fmt.Errorf("brokers %v: %w", t.Kafka.Brokers, err)
	}
	deps := pipeline.Deps{
		Matcher:    matcher,
		Sink:       r.sink,
		Forwarder:  r.producer,
		Logger:     o.log,
		Registerer: o.registry,
	}
	if r.enricher != nil {
		deps.Enricher = r.enricher
	}
	if r.proc, err = pipeline.New(t.Pipeline, deps); err != nil {
		return nil, err
	}
	gopts, err := r.proc.Options(saramaCfg, t.StartOffset)
	if err != nil {
		return nil, err
	}
	if r.goka, err = goka.NewProcessor(t.Kafka.Brokers, r.proc.Graph(), gopts...); err != nil {
		return nil, fmt.Errorf("building the goka processor: %w", err)
	}
	if t.HTTPAddr != "off" {
		if err := r.listen(o.registry); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkTopics verifies or creates the topics and learns the parking topic's
// partition count.
func (r *Runner) checkTopics(cfg *sarama.Config) error {
	admin, err := sarama.NewClusterAdmin(r.topo.Kafka.Brokers, cfg)
	if err != nil {
		return fmt.Errorf("brokers %v: cannot connect: %w", r.topo.Kafka.Brokers, err)
	}
	defer admin.Close()
	n, err := pipeline.EnsureTopics(admin, r.topo.Pipeline, r.topo.Topics)
	if err != nil {
		return err
	}
	r.topo.Pipeline.ParkingPartitions = n
	return nil
}

// openSink builds the store (S3 or a directory), checks that it is
// reachable, and starts the batcher.
func (r *Runner) openSink(ctx context.Context, o options) error {
	t := r.topo
	if t.OutputDir != "" {
		store, err := sinks.NewDirStore(t.OutputDir)
		if err != nil {
			return fmt.Errorf("output-dir: %w", err)
		}
		r.store = store
	} else {
		client := o.s3
		if client == nil {
			c, err := sinks.NewS3Client(ctx, t.S3.Client)
			if err != nil {
				return fmt.Errorf("s3: %w", err)
			}
			client = c
		}
		r.store = sinks.NewS3Store(client, t.S3.Bucket)
	}
	checkCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.store.Check(checkCtx); err != nil {
		return fmt.Errorf("s3-bucket: %w", err)
	}
	b, err := sinks.NewBatcher(t.Sink, r.store, sinks.WithLogger(o.log), sinks.WithRegisterer(o.registry))
	if err != nil {
		return err
	}
	r.sink = b
	return nil
}

// listen starts the metrics and health server.
func (r *Runner) listen(reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", r.topo.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http-addr: %w", err)
	}
	r.ln = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		// Ready once the processor has joined the group and runs; a pod
		// that stands by (more pods than partitions) is running too.
		if r.goka == nil || !r.goka.StateReader().IsState(goka.ProcStateRunning) {
			http.Error(w, "not running", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	r.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := r.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// HTTPAddr is the address the metrics server listens on ("" when off).
func (r *Runner) HTTPAddr() string {
	if r.ln == nil {
		return ""
	}
	return r.ln.Addr().String()
}

// Stats returns the pipeline's running totals.
func (r *Runner) Stats() pipeline.Snapshot { return r.proc.Stats() }

// Run consumes until ctx ends, then stops within the shutdown grace:
// goka stops fetching and revokes every partition (held records are handed
// to the DLQ, batches flushed, commits released), then the producer and the
// sink are closed. It returns nil after a clean stop.
func (r *Runner) Run(ctx context.Context) error {
	gokaCtx, stopGoka := context.WithCancel(context.WithoutCancel(ctx))
	defer stopGoka()
	done := make(chan error, 1)
	go func() { done <- r.goka.Run(gokaCtx) }()
	r.log.Info("redrive running", "group", r.topo.Pipeline.Group, "input", r.topo.Pipeline.InputTopic,
		"dlq", r.topo.Pipeline.DLQTopic, "parking", r.topo.Pipeline.ParkingTopic, "output", r.store.String(),
		"enrich_when", r.topo.Enrich.When, "http", r.HTTPAddr())

	var runErr error
	select {
	case runErr = <-done:
		r.log.Error("processor stopped on its own", "err", runErr)
	case <-ctx.Done():
	}
	deadline := time.Now().Add(r.topo.ShutdownGrace)
	stopCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if runErr == nil {
		r.log.Info("stopping", "grace", r.topo.ShutdownGrace)
		stopGoka()
		select {
		case runErr = <-done:
		case <-stopCtx.Done():
			r.closeAll(stopCtx)
			return fmt.Errorf("shutdown-grace %s exceeded; records not yet committed will be read again", r.topo.ShutdownGrace)
		}
	}
	// goka waited for every deferred commit of the revoked partitions; now
	// nothing new can arrive.
	r.proc.Wait()
	closeErr := r.closeAll(stopCtx)
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	if runErr == nil && closeErr == nil {
		r.log.Info("stopped cleanly")
	}
	return errors.Join(runErr, closeErr)
}

// Close releases a Runner that was started and will not be run. Run closes
// the Runner itself; Close after Run does nothing.
func (r *Runner) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.topo.ShutdownGrace)
	defer cancel()
	return r.closeAll(ctx)
}

// closeAll releases what Start opened, in dependency order, once.
func (r *Runner) closeAll(ctx context.Context) error {
	r.closeOnce.Do(func() { r.closeErr = r.close(ctx) })
	return r.closeErr
}

func (r *Runner) close(ctx context.Context) error {
	var errs []error
	if r.producer != nil {
		r.producer.Close()
	}
	if r.sink != nil {
		if err := r.sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing sink: %w", err))
		}
	}
	if r.http != nil {
		r.http.Shutdown(ctx) //nolint:errcheck // best effort at exit
	}
	return errors.Join(errs...)
}
