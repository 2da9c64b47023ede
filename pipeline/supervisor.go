package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/metric"
)

// supervisor keeps the consumer-group session alive. goka ends its
// processor on any error from sarama's Consume and sleeps 5 s after every
// rebalance; the supervisedGroup handed to goka instead loops over sessions
// itself: a rebalance rejoins at once, a transient fault rejoins with
// capped, jittered exponential backoff, and only a fatal fault (see
// KafkaFault.Fatal) is returned to goka, which then ends the run.
type supervisor struct {
	log *slog.Logger
	now func() time.Time
	// newBackoff makes the backoff between failed sessions; tests shorten it.
	newBackoff func() backoff.BackOff

	outage *outage

	mu          sync.Mutex
	up          bool      // a session is set up and consuming
	lastHealthy time.Time // when a session was last up (start time before the first)
	lastAttempt time.Time // when the supervisor last tried to join
	stopped     bool      // the supervisor returned: stopping or a fatal fault
	endCause    error     // the fault that ended the last session, if any (sessionEnded)
}

// newSupervisor makes the supervisor; hints go with the WARN line of a
// session lost to their fault.
func newSupervisor(log *slog.Logger, reg prometheus.Registerer, now func() time.Time, hints map[KafkaFault]string) *supervisor {
	s := &supervisor{log: log, now: now, newBackoff: newRetryBackoff}
	f := metric.With(reg)
	s.outage = newOutage(log, now, f, outageWords{
		metric:       "redrive_kafka_session",
		upHelp:       "1 while this process's consumer-group session is set up and consuming.",
		restartsHelp: "Consumer-group sessions lost to a fault and rejoined, by cause (unreachable, timeout, coordinator, rebalance, leader, processing, partitions, other). A plain rebalance is not counted.",
		what:         "kafka session",
		lost:         "kafka session lost; rejoining with backoff",
		back:         "kafka session rejoined",
		hints:        hints,
	})
	f.GaugeFunc("redrive_kafka_session_unhealthy_seconds",
		"Seconds since the consumer-group session was last up; 0 while it is up.",
		s.unhealthyFor)
	start := now()
	s.lastHealthy, s.lastAttempt = start, start
	return s
}

// newRetryBackoff is the backoff between failed Kafka sessions and between
// failed writes of one record: 500 ms doubling to at most 30 s, jittered by
// ±50%, without end (a stop or a revoke ends the retrying).
func newRetryBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.MaxInterval = 30 * time.Second
	b.RandomizationFactor = 0.5
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

// Up reports whether a session is set up and consuming (readiness).
func (s *supervisor) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// Progressing reports whether the supervisor is alive and has made progress
// within stall (liveness): a session is up, or it tried to join recently.
func (s *supervisor) Progressing(stall time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	return s.up || s.now().Sub(s.lastAttempt) < stall
}

func (s *supervisor) unhealthyFor() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		return 0
	}
	return s.now().Sub(s.lastHealthy).Seconds()
}

// sessionUp runs when a session has been set up. After an outage it logs
// one line saying how long the session was lost.
func (s *supervisor) sessionUp() {
	s.mu.Lock()
	s.up, s.lastHealthy = true, s.now()
	s.mu.Unlock()
	s.outage.back()
}

// sessionDown runs when a session ends, for whatever reason.
func (s *supervisor) sessionDown() {
	s.mu.Lock()
	if s.up {
		s.lastHealthy = s.now()
	}
	s.up = false
	s.mu.Unlock()
	s.outage.down()
}

// sessionEnded keeps why a session ended when that was a fault (sarama's
// heartbeat loop gave up: the coordinator is unreachable, or the member was
// fenced), so that the supervisor counts and logs it although sarama's
// Consume returns nil as after a plain rebalance.
func (s *supervisor) sessionEnded(cause error) {
	if cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, sarama.ErrRebalanceInProgress) {
		return // a stop or a plain rebalance
	}
	s.mu.Lock()
	s.endCause = cause
	s.mu.Unlock()
}

// takeEndCause returns and forgets the fault that ended the last session.
func (s *supervisor) takeEndCause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.endCause
	s.endCause = nil
	return err
}

// supervisedGroup is the sarama.ConsumerGroup goka runs: its Consume returns
// only when ctx ends (nil) or on a fatal fault.
type supervisedGroup struct {
	sarama.ConsumerGroup
	sup *supervisor
	// client is the group's own client, closed with the group.
	client sarama.Client

	abandoned atomic.Bool // a stop left a join to finish in the background
}

// joinAbortDelay is how long a stop lets a join that is under way finish
// before abandoning it.
const joinAbortDelay = time.Second

// Consume implements sarama.ConsumerGroup.
func (g *supervisedGroup) Consume(ctx context.Context, topics []string, h sarama.ConsumerGroupHandler) error {
	s := g.sup
	defer func() {
		s.sessionDown()
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
	}()
	b := backoff.WithContext(s.newBackoff(), ctx)
	for {
		s.mu.Lock()
		s.lastAttempt = s.now()
		s.mu.Unlock()
		err := g.consumeOnce(ctx, topics, sessionHandler{h, s, g})
		s.sessionDown()
		if ctx.Err() != nil {
			return nil
		}
		if cause := s.takeEndCause(); err == nil && cause != nil {
			err = cause
		}
		if err == nil {
			// sarama returns after every rebalance: rejoin at once (goka
			// itself would sleep 5 s here).
			b.Reset()
			continue
		}
		if retry, fatal := s.outage.failed(ctx, b, err); !retry {
			return fatal // nil when ctx ended
		}
	}
}

// consumeOnce runs one sarama Consume (a join and at most one session).
// When ctx ends while a session runs, the session's own release (revoke,
// flush, commit) ends it. When ctx ends during a join, which sarama cannot
// cancel (it holds the broker's lock for the whole JoinGroup request, up to
// the rebalance timeout), the join gets joinAbortDelay to finish and is then
// abandoned: no partition is held, so nothing is lost. The abandoned join
// runs on in the background; should it still succeed, its session is
// refused at set-up, and the group and its client are closed once it ends.
func (g *supervisedGroup) consumeOnce(ctx context.Context, topics []string, h sarama.ConsumerGroupHandler) error {
	result := make(chan error, 1)
	go func() { result <- g.ConsumerGroup.Consume(ctx, topics, h) }()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
	}
	abort := time.NewTimer(joinAbortDelay)
	defer abort.Stop()
	for {
		select {
		case err := <-result:
			return err
		case <-abort.C:
			if g.sup.Up() {
				// In a session: its release ends it.
				abort.Reset(joinAbortDelay)
				continue
			}
			g.sup.log.Warn("stopping during a consumer-group join; abandoning the join (the coordinator drops this member after its session timeout)")
			g.abandoned.Store(true)
			go func() {
				<-result
				g.closeNow() //nolint:errcheck // nobody is left to tell
			}()
			return nil
		}
	}
}

// Close implements sarama.ConsumerGroup: it leaves the group and closes the
// group's client. After a join was abandoned, the background goroutine
// that waits for the join closes them, and Close returns at once: sarama
// would wait for the join to leave the group.
func (g *supervisedGroup) Close() error {
	if g.abandoned.Load() {
		return nil
	}
	return g.closeNow()
}

func (g *supervisedGroup) closeNow() error {
	err := g.ConsumerGroup.Close()
	if g.client != nil {
		if cerr := g.client.Close(); cerr != nil && !errors.Is(cerr, sarama.ErrClosedClient) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// errJoinAbandoned refuses the session of a join that a stop abandoned.
var errJoinAbandoned = errors.New("join abandoned by a stop")

// sessionHandler reports session set-up and clean-up to the supervisor.
type sessionHandler struct {
	sarama.ConsumerGroupHandler
	sup   *supervisor
	group *supervisedGroup
}

func (h sessionHandler) Setup(s sarama.ConsumerGroupSession) error {
	if h.group.abandoned.Load() {
		return errJoinAbandoned
	}
	if err := h.ConsumerGroupHandler.Setup(s); err != nil {
		return err
	}
	h.sup.sessionUp()
	return nil
}

func (h sessionHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.sup.sessionDown()
	if s != nil {
		h.sup.sessionEnded(context.Cause(s.Context()))
	}
	return h.ConsumerGroupHandler.Cleanup(s)
}

// Errors implements sarama.ConsumerGroup. The supervisor reads the group's
// error reports itself (drainErrors) and classifies them; goka would log
// each at info level and, on some, stop reading them for good.
func (g *supervisedGroup) Errors() <-chan error { return nil }

// drainErrors logs the group's error reports, at most one line per fault
// class per 10 s, until the group is closed. sarama has already retried
// what a report describes; a fault that ends the session surfaces again as
// Consume's return value, which is what the supervisor acts on.
func (s *supervisor) drainErrors(errs <-chan error) {
	sample := newLogSampler(10*time.Second, s.now)
	for err := range errs {
		fault := ClassifyKafka(err)
		if ok, suppressed := sample.allow(string(fault)); ok {
			s.log.Warn("kafka consumer error", "cause", string(fault), "err", err, "same_cause_not_logged", suppressed)
		}
	}
}
