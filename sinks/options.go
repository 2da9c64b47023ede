package sinks

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Option supplies a collaborator to NewBatcher.
type Option func(*options)

type options struct {
	log *slog.Logger
	reg prometheus.Registerer
	now func() time.Time
}

// WithLogger sets the logger. Default: logs are discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegisterer sets where the sink's metrics are registered. Default: a fresh
// registry of the Batcher's own (never the global one).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithClock sets the clock that dates batches (object keys) and ages them for
// MaxAge. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }
