package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redrive-io/redrive/internal/ctxwait"
	"github.com/redrive-io/redrive/internal/metric"
)

// outage speaks for a Kafka reader that is rebuilt after transient faults
// (the group's session, the lookup table's view), in the same words for
// each: the gauge NAME_up, the counter NAME_restarts_total{cause}, one WARN
// line when the reader is lost and one when it is back, and DEBUG lines
// for the failures in between.
type outage struct {
	log   *slog.Logger
	now   func() time.Time
	words outageWords

	restarts *prometheus.CounterVec
	up       prometheus.Gauge

	mu     sync.Mutex
	lostAt time.Time // the first fault of the current outage; zero when there is none
}

// outageWords are what an outage's series and log lines say.
type outageWords struct {
	// metric prefixes the series: metric_up and metric_restarts_total.
	metric, upHelp, restartsHelp string
	// what the reader is ("kafka session"), the line that says it was lost
	// and what is done about it, and the line that says it is back.
	what, lost, back string
	// hints say what an operator can do about a fault, on the line that
	// says the reader was lost to it.
	hints map[KafkaFault]string
}

func newOutage(log *slog.Logger, now func() time.Time, f metric.Factory, w outageWords) *outage {
	return &outage{
		log: log, now: now, words: w,
		restarts: f.CounterVec(w.metric+"_restarts_total", w.restartsHelp, "cause"),
		up:       f.Gauge(w.metric+"_up", w.upHelp),
	}
}

// back says that the reader is up: after an outage, one line with how long
// it was lost.
func (o *outage) back() {
	o.up.Set(1)
	o.mu.Lock()
	lostAt := o.lostAt
	o.lostAt = time.Time{}
	o.mu.Unlock()
	if !lostAt.IsZero() {
		o.log.Warn(o.words.back, "lost_for", o.now().Sub(lostAt).Round(time.Millisecond).String())
	}
}

// down says that the reader stopped, for whatever reason.
func (o *outage) down() { o.up.Set(0) }

// failed acts on err, which ended the reader. A fault that retrying cannot
// fix is logged and returned. Any other is counted and logged, and its
// backoff b is waited out: retry is then true, or false when ctx ended.
func (o *outage) failed(ctx context.Context, b backoff.BackOff, err error) (retry bool, fatal error) {
	fault := ClassifyKafka(err)
	if fault.Fatal() {
		o.log.Error(o.words.what+" failed with a fault that retrying cannot fix; stopping", "cause", string(fault), "err", err)
		return false, err
	}
	o.restarts.WithLabelValues(string(fault)).Inc()
	wait := b.NextBackOff()
	o.mu.Lock()
	first := o.lostAt.IsZero()
	if first {
		o.lostAt = o.now()
	}
	o.mu.Unlock()
	// One line per state change: later failures of the same outage are
	// logged at debug level only.
	level, msg := slog.LevelDebug, o.words.what+" still failing"
	if first {
		level, msg = slog.LevelWarn, o.words.lost
	}
	attrs := []any{"cause", string(fault), "err", err, "retry_in", wait.Round(time.Millisecond).String()}
	if hint := o.words.hints[fault]; hint != "" {
		attrs = append(attrs, "hint", hint)
	}
	o.log.Log(ctx, level, msg, attrs...)
	if wait == backoff.Stop || ctxwait.Sleep(ctx, wait) != nil {
		return false, nil
	}
	return true, nil
}
