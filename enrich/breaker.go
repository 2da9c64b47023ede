package enrich

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/sony/gobreaker/v2"
)

// newBreaker builds the circuit breaker in front of the API. It opens after
// cfg.BreakerFailures consecutive transient failures. Permanent failures
// count as successes (the API answered, so it is up), and a cancelled call
// counts as nothing: neither says anything about the API's health.
func newBreaker(cfg Config, log *slog.Logger) *gobreaker.CircuitBreaker[json.RawMessage] {
	return gobreaker.NewCircuitBreaker[json.RawMessage](gobreaker.Settings{
		Name:        "enrich",
		MaxRequests: cfg.BreakerHalfOpen,
		Timeout:     cfg.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= cfg.BreakerFailures
		},
		IsSuccessful: func(err error) bool {
			return err == nil || !IsRetryable(err)
		},
		IsExcluded: func(err error) bool {
			return ClassOf(err) == ClassCanceled
		},
		// Called with the breaker's lock held: log only.
		OnStateChange: func(name string, from, to gobreaker.State) {
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			log.Log(context.Background(), level, "enrich: circuit breaker state changed",
				"breaker", name, "from", from.String(), "to", to.String())
		},
	})
}
