package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/redrive-io/redrive/internal/wait"
)

// scriptedGroup plays one step per Consume call: a session that is set up
// and ends (nil, like a rebalance), or an error before any session.
type scriptedGroup struct {
	sarama.ConsumerGroup
	mu    sync.Mutex
	steps []error
	calls int
	upAt  []bool // whether the supervisor said Up inside each session
	sup   *supervisor
	done  chan struct{} // closed when the script ran out
}

var errSession = errors.New("a session that set up and ended")

func (g *scriptedGroup) Consume(ctx context.Context, _ []string, h sarama.ConsumerGroupHandler) error {
	g.mu.Lock()
	i := g.calls
	g.calls++
	g.mu.Unlock()
	if i >= len(g.steps) {
		close(g.done)
		<-ctx.Done()
		return nil
	}
	if errors.Is(g.steps[i], errSession) {
		if err := h.Setup(nil); err != nil {
			return err
		}
		g.upAt = append(g.upAt, g.sup.Up())
		return h.Cleanup(nil)
	}
	return g.steps[i]
}

type nopHandler struct{}

func (nopHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (nopHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (nopHandler) ConsumeClaim(sarama.ConsumerGroupSession, sarama.ConsumerGroupClaim) error {
	return nil
}

// countingBackoff counts the waits the supervisor asks for.
type countingBackoff struct{ n *int }

func (b countingBackoff) NextBackOff() time.Duration { *b.n++; return time.Millisecond }
func (b countingBackoff) Reset()                     {}

func newTestSupervisor(t *testing.T) (*supervisor, *prometheus.Registry, *int) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := newSupervisor(slog.New(slog.DiscardHandler), reg, time.Now, nil)
	waits := new(int)
	s.newBackoff = func() backoff.BackOff { return countingBackoff{waits} }
	return s, reg, waits
}

// Invariant 8 and the 5 s pause of issue "redrive stays up": rebalances
// rejoin at once (no backoff), transient faults (the brokers unreachable,
// a join that timed out) rejoin after a backoff, and Consume keeps going
// until its context ends: goka never sees an error and never sleeps.
func TestInvariant8_SupervisorRejoinsAfterRebalancesAndTransientFaults(t *testing.T) {
	sup, _, waits := newTestSupervisor(t)
	inner := &scriptedGroup{sup: sup, done: make(chan struct{}), steps: []error{
		errSession, errSession, // two rebalances
		sarama.ErrOutOfBrokers, sarama.ErrOutOfBrokers, // the brokers are down
		errSession,                // back
		sarama.ErrRequestTimedOut, // a join that timed out
		errSession,
	}}
	g := (&supervisedGroup{ConsumerGroup: inner, sup: sup})
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- g.Consume(ctx, []string{"in"}, nopHandler{}) }()
	<-inner.done
	cancel()
	if err := <-result; err != nil {
		t.Fatalf("Consume returned %v; goka would end the processor", err)
	}
	if *waits != 3 {
		t.Fatalf("%d backoff waits, want 3 (one per transient fault, none per rebalance)", *waits)
	}
	for i, up := range inner.upAt {
		if !up {
			t.Fatalf("session %d was set up but the supervisor did not say Up", i)
		}
	}
	if sup.Up() {
		t.Fatal("Up after the last session ended")
	}
	if got := counterValue(sup.outage.restarts.WithLabelValues(string(FaultUnreachable))); got != 2 {
		t.Fatalf("restarts{cause=unreachable} = %v, want 2", got)
	}
	if got := counterValue(sup.outage.restarts.WithLabelValues(string(FaultTimeout))); got != 1 {
		t.Fatalf("restarts{cause=timeout} = %v, want 1", got)
	}
}

// Only a configuration fault (here an ACL) ends the session loop, and it is
// returned as it is so that the process can say what to fix.
func TestInvariant8_SupervisorGivesUpOnlyOnFatalFaults(t *testing.T) {
	sup, _, _ := newTestSupervisor(t)
	inner := &scriptedGroup{sup: sup, done: make(chan struct{}), steps: []error{
		sarama.ErrOutOfBrokers, errSession, sarama.ErrGroupAuthorizationFailed,
	}}
	err := (&supervisedGroup{ConsumerGroup: inner, sup: sup}).Consume(context.Background(), []string{"in"}, nopHandler{})
	if !errors.Is(err, sarama.ErrGroupAuthorizationFailed) {
		t.Fatalf("Consume returned %v, want the authorization failure", err)
	}
	if sup.Progressing(time.Hour) {
		t.Fatal("a supervisor that gave up still reports progress (liveness)")
	}
}

// A stop during the backoff returns at once, without an error.
func TestSupervisorStopsDuringBackoff(t *testing.T) {
	sup, _, _ := newTestSupervisor(t)
	sup.newBackoff = func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }
	inner := &scriptedGroup{sup: sup, done: make(chan struct{}), steps: []error{sarama.ErrOutOfBrokers}}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		result <- (&supervisedGroup{ConsumerGroup: inner, sup: sup}).Consume(ctx, []string{"in"}, nopHandler{})
	}()
	wait.For(t, 10*time.Second, "the first failed join", func() bool { inner.mu.Lock(); defer inner.mu.Unlock(); return inner.calls == 1 })
	cancel()
	if err := <-result; err != nil {
		t.Fatalf("stop during backoff returned %v", err)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// joinBlockedGroup blocks in its first Consume as sarama does in a join
// that waits for the rebalance timeout, until released.
type joinBlockedGroup struct {
	sarama.ConsumerGroup
	joining, release, closed chan struct{}
}

func (g *joinBlockedGroup) Consume(_ context.Context, _ []string, h sarama.ConsumerGroupHandler) error {
	close(g.joining)
	<-g.release
	return h.Setup(nil) // the join succeeded after all
}

func (g *joinBlockedGroup) Close() error { close(g.closed); return nil }

// Invariant 6 and 8: a stop that finds the group blocked in a join (no
// partition held) abandons the join instead of waiting up to the rebalance
// timeout, longer than the grace period; Close does not wait for it either.
// Should the join still succeed, its session is refused, and the group is
// closed once the join has ended.
func TestInvariant6_StopAbandonsABlockedJoin(t *testing.T) {
	sup, _, _ := newTestSupervisor(t)
	inner := &joinBlockedGroup{joining: make(chan struct{}), release: make(chan struct{}), closed: make(chan struct{})}
	g := &supervisedGroup{ConsumerGroup: inner, sup: sup}
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- g.Consume(ctx, []string{"in"}, nopHandler{}) }()
	<-inner.joining
	cancel()
	if err := <-result; err != nil {
		t.Fatalf("Consume returned %v after a stop during a join", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	close(inner.release)
	<-inner.closed // closed by the goroutine that waited for the join
	if sup.Up() {
		t.Fatal("the abandoned join's session was set up")
	}
}

// Issue "redrive stays up", item 2: sarama reads every response within
// Net.ReadTimeout, JoinGroup included, while the coordinator may hold a join
// for the rebalance timeout; the group's client must wait longer than that,
// and its lost-coordinator detection must not outlast the session much.
func TestGroupConfigLetsAJoinWaitForTheRebalanceTimeout(t *testing.T) {
	for _, rebalance := range []time.Duration{0, 20 * time.Second, 5 * time.Minute} {
		c := Config{RebalanceTimeout: rebalance}
		c.SetDefaults()
		s := sarama.NewConfig()
		c.applyGroup(s)
		if s.Net.ReadTimeout <= c.RebalanceTimeout {
			t.Errorf("rebalance timeout %s: read timeout %s would cut a join short", c.RebalanceTimeout, s.Net.ReadTimeout)
		}
		if s.Consumer.Group.Rebalance.Timeout != c.RebalanceTimeout || s.Consumer.Group.Session.Timeout != c.SessionTimeout ||
			s.Consumer.Group.Heartbeat.Interval != c.HeartbeatInterval {
			t.Errorf("group timeouts not applied: %+v", s.Consumer.Group)
		}
		if s.Net.DialTimeout > c.SessionTimeout {
			t.Errorf("dial timeout %s outlasts the session timeout %s", s.Net.DialTimeout, c.SessionTimeout)
		}
	}
}
