package redrive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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
	kafkaHint func(error) string
	log       *slog.Logger
	registry  *prometheus.Registry
	s3        sinks.S3API
	http      *http.Client
}

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegistry sets the Prometheus registry served on /metrics. Default: a
// fresh registry with the Go and process collectors.
func WithRegistry(r *prometheus.Registry) Option { return func(o *options) { o.registry = r } }

// WithKafkaHint sets a function that explains a Kafka connection error in
// terms of the flags (e.g. "add --tls"); its answer is logged beside the
// error while start-up waits for Kafka. Default: none.
func WithKafkaHint(hint func(error) string) Option { return func(o *options) { o.kafkaHint = hint } }

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
	table    *pipeline.Table // nil without --lookup-topic
	http     *http.Server
	ln       net.Listener

	closeOnce sync.Once
	closeErr  error

	// health is the processor once Start has built it; /healthz and
	// /readyz, served from the start, read it.
	health atomic.Pointer[pipeline.Processor]
}

// Run starts the topology and runs it until ctx ends, then stops gracefully.
func (t Topology) Run(ctx context.Context, opts ...Option) error {
	r, err := t.Start(ctx, opts...)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil // stopped while waiting for Kafka or S3: nothing was read
		}
		return err
	}
	return r.Run(ctx)
}

// Start validates the topology, serves /metrics, /healthz and /readyz,
// connects to Kafka, checks (or creates) the topics, checks the output, and
// builds the goka processor. Nothing is consumed until Run. Kafka or S3
// being unreachable is waited out with backoff (not ready meanwhile) until
// ctx ends; a configuration they refuse (a missing topic or bucket,
// credentials refused) is returned at once.
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

	if t.HTTPAddr != "off" {
		if err := r.listen(o.registry); err != nil {
			return nil, err
		}
	}
	saramaCfg, err := t.Kafka.SaramaConfig()
	if err != nil {
		return nil, err
	}
	var topics pipeline.TopicInfo
	err = r.untilReachable(ctx, "Kafka", kafkaUnreachable, o.kafkaHint, func() (err error) {
		topics, err = r.checkTopics(saramaCfg)
		return err
	})
	if err != nil {
		return nil, err
	}

	// Validate checked the schema file; this loads it for the sink and
	// the processor.
	outSchema, err := t.OutputSchema()
	if err != nil {
		return nil, err
	}
	if outSchema != nil {
		r.topo.Sink.Schema = outSchema.Parquet()
	}
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

	var key *enrich.Key
	if t.Lookup.Key != "" {
		if key, err = enrich.CompileKey(t.Lookup.Key); err != nil {
			return nil, fmt.Errorf("lookup-key: %w", err)
		}
	}
	if t.Lookup.Table.Topic != "" {
		r.table, err = pipeline.NewTable(t.Lookup.Table, t.Kafka.Brokers, saramaCfg,
			pipeline.WithTableLogger(o.log), pipeline.WithTableRegisterer(o.registry))
		if err != nil {
			return nil, err
		}
	}

	if r.producer, err = pipeline.NewProducer(t.Kafka.Brokers, saramaCfg, topics.WriteMaxBytes(t.Pipeline)); err != nil {
		return nil, fmt.Errorf("brokers %v: %w", t.Kafka.Brokers, err)
	}
	deps := pipeline.Deps{
		Matcher:    matcher,
		Sink:       r.sink,
		Schema:     outSchema,
		Forwarder:  r.producer,
		Topics:     topics,
		Logger:     o.log,
		Registerer: o.registry,
	}
	// Interfaces are set only from non-nil pointers: a typed nil would
	// read as present.
	if r.enricher != nil {
		deps.Enricher = r.enricher
	}
	if r.table != nil {
		deps.Table = r.table
	}
	if key != nil {
		deps.Key = key
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
	r.health.Store(r.proc)
	return r, nil
}

// checkTopics verifies or creates the topics and returns what it learned
// about them (partition counts, size limits).
func (r *Runner) checkTopics(cfg *sarama.Config) (pipeline.TopicInfo, error) {
	admin, err := sarama.NewClusterAdmin(r.topo.Kafka.Brokers, cfg)
	if err != nil {
		return pipeline.TopicInfo{}, fmt.Errorf("brokers %v: cannot connect: %w", r.topo.Kafka.Brokers, err)
	}
	defer admin.Close()
	if topic := r.topo.Lookup.Table.Topic; topic != "" {
		if err := pipeline.CheckTableTopic(r.log, admin, topic); err != nil {
			return pipeline.TopicInfo{}, err
		}
	}
	return pipeline.EnsureTopics(r.log, admin, r.topo.Pipeline, r.topo.Topics)
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
		r.store = sinks.NewS3Store(client, t.S3.Bucket, t.S3.Encryption)
	}
	unreachable := storeUnreachable
	if t.OutputDir != "" {
		unreachable = func(error) bool { return false } // a local directory is not waited for
	}
	err := r.untilReachable(ctx, "S3", unreachable, nil, func() error {
		checkCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return r.store.Check(checkCtx)
	})
	if err != nil {
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
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Live while starting (waiting for Kafka or S3 with backoff) and
		// while the session supervisor is up or keeps trying to rejoin: an
		// outage is waited out, not restarted away.
		// A first recovery of the lookup table may take longer than the
		// stall allowed to a session: the table logs its progress.
		recovering := r.table != nil && !r.table.HasRecovered()
		if p := r.health.Load(); p != nil && !recovering && !p.Progressing(livenessStall) {
			http.Error(w, "kafka session supervisor stalled or stopped", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		// Ready while a consumer-group session is set up and consuming; a
		// pod that stands by (more pods than partitions) is in a session
		// too. Not ready while the session is lost or rejoining.
		if p := r.health.Load(); p == nil || !p.SessionUp() {
			http.Error(w, "starting, or kafka session down or rejoining", http.StatusServiceUnavailable)
			return
		}
		// Not ready while the lookup table recovers or its view is rebuilt.
		if r.table != nil && !r.table.Up() {
			http.Error(w, "lookup table recovering", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	r.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	r.log.Info("serving /metrics, /healthz and /readyz", "http", ln.Addr().String())
	go func() {
		if err := r.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// livenessStall is how long the session supervisor may go without a
// session and without a new attempt to join before /healthz fails. One
// attempt can take minutes when the brokers do not answer at all (sarama's
// metadata and join retries, each up to its read timeout).
const livenessStall = 15 * time.Minute

// HTTPAddr is the address the metrics server listens on ("" when off).
func (r *Runner) HTTPAddr() string {
	if r.ln == nil {
		return ""
	}
	return r.ln.Addr().String()
}

// Stats returns the pipeline's running totals.
func (r *Runner) Stats() pipeline.Snapshot { return r.proc.Stats() }

// ErrIncompleteStop is returned (wrapped) by Run when it stopped but could
// not make everything durable and committed: the grace period ran out, or
// Kafka or S3 could not take the last writes. Nothing is lost: what was not
// committed is read again on the next start. The binary exits with code 3.
var ErrIncompleteStop = errors.New("stop incomplete: records not yet committed will be read again on restart, none lost")

// Run consumes until ctx ends, then stops within the shutdown grace:
// goka stops fetching and revokes every partition (held records are handed
// to the DLQ, batches flushed, commits released), then the producer and the
// sink are closed. It returns nil after a clean stop, an error wrapping
// ErrIncompleteStop after a stop that left records uncommitted, and any
// other error when a fatal fault (see pipeline.KafkaFault) ended the run:
// transient faults of Kafka, S3 or the API never do.
func (r *Runner) Run(ctx context.Context) error {
	tableErr, stopTable := r.runTable()
	defer stopTable()
	if err := r.awaitTable(ctx, tableErr); err != nil || ctx.Err() != nil {
		stopTable()
		return errors.Join(err, r.closeAll(context.Background()))
	}
	gokaCtx, stopGoka := context.WithCancel(context.WithoutCancel(ctx))
	defer stopGoka()
	done := make(chan error, 1)
	go func() { done <- r.goka.Run(gokaCtx) }()
	r.log.Info("redrive running", "group", r.topo.Pipeline.Group, "input", r.topo.Pipeline.InputTopic,
		"dlq", r.topo.Pipeline.DLQTopic, "parking", r.topo.Pipeline.ParkingTopic, "output", r.store.String(),
		"enrich_when", r.topo.Enrich.When, "lookup_topic", r.topo.Lookup.Table.Topic, "http", r.HTTPAddr())

	var runErr error
	stopping := false
	select {
	case runErr = <-done:
		// The session supervisor returns to goka only on a fatal fault.
		r.log.Error("processor stopped on a fault that retrying cannot fix", "err", runErr)
	case runErr = <-tableErr:
		// So does the table's supervisor: stop the processor too.
		stopGoka()
		<-done
	case <-ctx.Done():
		stopping = true
	}
	deadline := time.Now().Add(r.topo.ShutdownGrace)
	stopCtx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	letGoBefore := r.proc.Stats().LetGo
	if stopping {
		r.log.Info("stopping", "grace", r.topo.ShutdownGrace.String())
		stopGoka()
		select {
		case runErr = <-done:
		case <-stopCtx.Done():
			stopTable()
			return r.graceExceeded(stopCtx)
		}
	}
	// goka waited for every deferred commit of the revoked partitions; the
	// processor's own goroutines end as soon as their partitions are
	// released.
	if !r.proc.WaitContext(stopCtx) {
		stopTable()
		return r.graceExceeded(stopCtx)
	}
	stopTable()
	closeErr := r.closeAll(stopCtx)
	if !stopping {
		return errors.Join(runErr, closeErr)
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		// After the stop began, what goka and Kafka say on the way out (a
		// stop during start-up, a group that cannot be left while the
		// brokers are down) does not leave a record behind: what was
		// durable was committed or is read again, and what was not is
		// counted in letGo or the sink's close.
		r.log.Warn("kafka error while stopping", "err", runErr)
	}
	letGo := r.proc.Stats().LetGo - letGoBefore
	if letGo > 0 {
		closeErr = errors.Join(closeErr, fmt.Errorf("%d records could not be written to the DLQ in time", letGo))
	}
	if closeErr != nil {
		return fmt.Errorf("%w: %w", ErrIncompleteStop, closeErr)
	}
	r.log.Info("stopped cleanly")
	return nil
}

// runTable runs the lookup table's supervisor, if there is a table. Its
// error channel yields only a fatal fault; stop ends it and waits.
func (r *Runner) runTable() (fatal <-chan error, stop func()) {
	if r.table == nil {
		return nil, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc, ended := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(ended)
		if err := r.table.Run(ctx); err != nil {
			errc <- err
		}
	}()
	var once sync.Once
	return errc, func() { once.Do(func() { cancel(); <-ended }) }
}

// awaitTable waits until the lookup table has first caught up with its
// topic (it logs its progress meanwhile): records are not processed
// before, so that a key already in the table is never asked of the API.
// It returns the table's fatal error, or nil when ctx ends first.
func (r *Runner) awaitTable(ctx context.Context, fatal <-chan error) error {
	if r.table == nil {
		return nil
	}
	select {
	case <-r.table.Recovered():
		return nil
	case err := <-fatal:
		return err
	case <-ctx.Done():
		return nil
	}
}

// graceExceeded closes what is open (each close bounded by the expired
// ctx, so at once) and reports a stop that ran out of its grace period.
func (r *Runner) graceExceeded(ctx context.Context) error {
	r.closeAll(ctx)
	return fmt.Errorf("shutdown-grace %s exceeded: %w", r.topo.ShutdownGrace, ErrIncompleteStop)
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
		if err := r.producer.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if r.sink != nil {
		if err := r.sink.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing sink: %w", err))
		}
	}
	if r.table != nil {
		// Its supervisor has returned (Run stops it first, and a Runner
		// that never ran never started it).
		if err := r.table.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the lookup table: %w", err))
		}
	}
	if r.http != nil {
		r.http.Shutdown(ctx) //nolint:errcheck // best effort at exit
	}
	return errors.Join(errs...)
}
