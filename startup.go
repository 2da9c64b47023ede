package redrive

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/redrive-io/redrive/pipeline"
	"github.com/redrive-io/redrive/sinks"
)

// untilReachable runs check until it succeeds, fails with an error that
// unreachable does not call transient, or ctx ends. A pod that starts
// while Kafka or S3 is down (a cluster coming back from maintenance) waits
// for it, not ready, instead of exiting into a crash loop; one line is
// logged when the wait begins (with hint's explanation of the error, when
// hint is set and has one) and one when it ends.
func (r *Runner) untilReachable(ctx context.Context, what string, unreachable func(error) bool, hint func(error) string, check func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = time.Second, 30*time.Second, 0
	b.Reset()
	var since time.Time
	for {
		err := check()
		if err == nil {
			if !since.IsZero() {
				r.log.Warn(what+" reachable; starting", "waited", time.Since(since).Round(time.Millisecond).String())
			}
			return nil
		}
		if !unreachable(err) {
			return err
		}
		wait := b.NextBackOff()
		if since.IsZero() {
			since = time.Now()
			attrs := []any{"err", err, "retry_in", wait.Round(time.Millisecond).String()}
			if hint != nil {
				if h := hint(err); h != "" {
					attrs = append(attrs, "hint", h)
				}
			}
			r.log.Warn("waiting for "+what+" at start-up; not ready meanwhile", attrs...)
		} else {
			r.log.Debug(what+" still unreachable", "err", err, "retry_in", wait.Round(time.Millisecond).String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

// kafkaUnreachable: the brokers or the coordinator did not answer. Any other
// start-up error (a missing topic, a refused limit, an authorization
// failure) is the configuration's and is returned at once.
func kafkaUnreachable(err error) bool {
	switch pipeline.ClassifyKafka(err) {
	case pipeline.FaultUnreachable, pipeline.FaultTimeout, pipeline.FaultCoordinator, pipeline.FaultLeader:
		return true
	}
	return false
}

// storeUnreachable: S3 did not answer or answered with a server error;
// a missing bucket or refused credentials are returned at once.
func storeUnreachable(err error) bool { return !sinks.Permanent(err) }
