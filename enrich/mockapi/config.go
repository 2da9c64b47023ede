package mockapi

import (
	"errors"
	"fmt"
	"time"
)

// Config describes how the mock API behaves. Rates are fractions of the
// requests outside outages; they are drawn from a generator seeded by Seed,
// so the counts over N requests are the same on every run.
type Config struct {
	// Latency is added to every answer outside outages, default 0.
	Latency time.Duration
	// ErrorRate is the fraction answered 503 (transient), default 0.
	ErrorRate float64
	// PermanentRate is the fraction answered 400 (permanent), default 0.
	PermanentRate float64
	// GarbageRate is the fraction answered 200 with a non-JSON body, default 0.
	GarbageRate float64
	// Outages are windows, relative to the server's creation, in which every
	// request is answered 503 at once. Default none.
	Outages []Window
	// Seed seeds the random draws, default 0 (itself a fixed seed).
	Seed int64
	// RejectContaining, when set, answers 400 (permanent) to every request
	// outside outages whose body contains it, so that a test can pick the
	// records the API rejects. Default "" (none).
	RejectContaining string
}

// Window is a span of time relative to the server's creation.
type Window struct {
	Start    time.Duration // offset of the window's start
	Duration time.Duration // length of the window
}

// contains reports whether offset since start falls inside w.
func (w Window) contains(offset time.Duration) bool {
	return offset >= w.Start && offset < w.Start+w.Duration
}

// SetDefaults does nothing: every zero value is the default. It exists so
// that Config looks like every other redrive config.
func (c *Config) SetDefaults() {}

// Validate reports every invalid field, naming it.
func (c Config) Validate() error {
	var errs []error
	rate := func(name string, v float64) {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("mockapi: %s: must be within [0, 1], got %v", name, v))
		}
	}
	rate("ErrorRate", c.ErrorRate)
	rate("PermanentRate", c.PermanentRate)
	rate("GarbageRate", c.GarbageRate)
	if sum := c.ErrorRate + c.PermanentRate + c.GarbageRate; sum > 1 {
		errs = append(errs, fmt.Errorf("mockapi: ErrorRate+PermanentRate+GarbageRate: must be <= 1, got %v", sum))
	}
	if c.Latency < 0 {
		errs = append(errs, fmt.Errorf("mockapi: Latency: must be >= 0, got %s", c.Latency))
	}
	for i, w := range c.Outages {
		if w.Start < 0 || w.Duration <= 0 {
			errs = append(errs, fmt.Errorf("mockapi: Outages[%d]: need Start >= 0 and Duration > 0, got %+v", i, w))
		}
	}
	return errors.Join(errs...)
}
