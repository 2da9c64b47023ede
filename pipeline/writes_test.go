package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
	"github.com/redrive-io/redrive/internal/wait"
)

// Invariant 8: a DLQ write that fails for a reason that may pass (the
// brokers unreachable, sarama's breaker open) never stops the processor:
// the record is written again with backoff while its partition's fetching
// pauses, and its commit is released only once the write is acknowledged.
func TestInvariant8_FailedDLQWriteIsRetriedWhileThePartitionPauses(t *testing.T) {
	fwd := &fakeForwarder{fail: func(topic string, _ []byte, try int) error {
		if try <= 2 {
			return &WriteError{Topic: topic, Fault: FaultLeader, Err: errors.New("circuit breaker is open")}
		}
		return nil
	}}
	h := newHarness(t, testConfig(), Deps{Matcher: rule(t), Enricher: &fakeEnricher{}, Sink: &fakeSink{}, Forwarder: fwd})
	h.consume("in", "k", []byte(`{"category":"X","outcome":"transient"}`), nil)
	wait.For(t, 10*time.Second, "the first write to fail", func() bool { return fwd.attempts() >= 1 })
	wait.For(t, 10*time.Second, "the partition to pause while its write fails", func() bool { return h.group.is("in", 0) })
	if got := h.commits.count("in"); got != 0 {
		t.Fatalf("committed %d records while the DLQ write had not succeeded", got)
	}
	wait.For(t, 10*time.Second, "the write to succeed on its third try", func() bool { return h.commits.count("in") == 1 })
	if fwd.attempts() != 3 || len(fwd.to("in.dlq")) != 1 {
		t.Fatalf("%d write attempts, %d records in the DLQ; want 3 and 1", fwd.attempts(), len(fwd.to("in.dlq")))
	}
	if h.commits.errs != 0 {
		t.Fatalf("%d commits released with an error: a failed write stopped the processor", h.commits.errs)
	}
	wait.For(t, 10*time.Second, "the partition to resume", func() bool { return !h.group.is("in", 0) })
}

// Invariant 9: a record that the parking topic refuses on its own as too
// large is parked as a reduced envelope: class oversize with the cause, the
// original's size and SHA-256, the key and origin, and as much of the value
// as the topic's limit leaves room for.
func TestInvariant9_ARecordTooLargeForParkingIsParkedReduced(t *testing.T) {
	const limit = HeaderRoom + 100
	value := []byte(`{"category":"X","outcome":"permanent","blob":"` + strings.Repeat("z", 500) + `"}`)
	fwd := &fakeForwarder{fail: func(topic string, v []byte, _ int) error {
		if len(v) > 100 {
			return &WriteError{Topic: topic, Fault: FaultTooLarge, Err: sarama.ErrMessageSizeTooLarge}
		}
		return nil
	}}
	cfg := testConfig()
	cfg.MaxRecordBytes = 1 << 10
	h := newHarness(t, cfg, Deps{Matcher: rule(t), Enricher: &fakeEnricher{}, Sink: &fakeSink{}, Forwarder: fwd,
		Topics: TopicInfo{ParkingPartitions: 1, MaxMessageBytes: map[string]int{"in.parking": limit}}})
	h.consume("in", "key-1", value, nil)
	wait.For(t, 10*time.Second, "the commit", func() bool { return h.commits.count("in") == 1 })
	parked := fwd.to("in.parking")
	if len(parked) != 1 {
		t.Fatalf("%d parked records, want 1", len(parked))
	}
	got := parked[0]
	sum := sha256.Sum256(value)
	switch {
	case got.Env.Reduced == nil:
		t.Fatalf("parked without the reduced headers: %+v", got.Env)
	case got.Env.Reduced.Size != len(value) || got.Env.Reduced.SHA256 != hex.EncodeToString(sum[:]):
		t.Fatalf("reduced envelope describes %+v, want size %d and the value's SHA-256", got.Env.Reduced, len(value))
	case got.Env.ErrorClass != dlq.ClassOversize || !strings.Contains(got.Env.Error, "can never be written"):
		t.Fatalf("class %q, cause %q", got.Env.ErrorClass, got.Env.Error)
	case got.Key != "key-1" || got.Env.Origin != (dlq.Origin{Topic: "in", Offset: 0}):
		t.Fatalf("key %q origin %v: the record cannot be found again", got.Key, got.Env.Origin)
	case got.Value != string(value[:100-len("key-1")]):
		t.Fatalf("kept %d bytes %q, want the first %d", len(got.Value), got.Value, 100-len("key-1"))
	}
}

// Without a known limit (a topic lowered after start-up refuses even what
// its start-up limit allowed) the kept part is halved until it fits, down to
// no value at all; the record is never dropped.
func TestInvariant9_ReducedValueIsHalvedUntilItFits(t *testing.T) {
	value := []byte(`not json ` + strings.Repeat("y", 9000))
	fwd := &fakeForwarder{fail: func(topic string, v []byte, _ int) error {
		if len(v) > 1000 {
			return &WriteError{Topic: topic, Fault: FaultTooLarge, Err: sarama.ErrMessageSizeTooLarge}
		}
		return nil
	}}
	cfg := testConfig()
	cfg.MaxRecordBytes = 64 << 10
	h := newHarness(t, cfg, Deps{Sink: &fakeSink{}, Forwarder: fwd})
	h.consume("in", "k", value, nil)
	wait.For(t, 10*time.Second, "the commit", func() bool { return h.commits.count("in") == 1 })
	parked := fwd.to("in.parking")
	if len(parked) != 1 || len(parked[0].Value) > 1000 || parked[0].Env.Reduced == nil || parked[0].Env.Reduced.Size != len(value) {
		t.Fatalf("parked %+v", parked)
	}
	if !strings.HasPrefix(string(value), parked[0].Value) {
		t.Fatalf("kept value is not a prefix of the original")
	}
}

// Invariant 8 (revoke while Kafka is down): a revoked partition whose DLQ
// write keeps failing does not wait for it: the record is let go with
// ErrLetGo (nothing committed at or past it, so it is read again after the
// rejoin) and the revoke finishes at once instead of holding the rebalance.
func TestInvariant8_RevokeLetsGoOfWritesKafkaCannotTake(t *testing.T) {
	fwd := &fakeForwarder{fail: func(topic string, _ []byte, _ int) error {
		return &WriteError{Topic: topic, Fault: FaultUnreachable, Err: sarama.ErrOutOfBrokers}
	}}
	h := newHarness(t, testConfig(), Deps{Matcher: rule(t), Enricher: &fakeEnricher{}, Sink: &fakeSink{}, Forwarder: fwd})
	h.consume("in", "a", []byte(`{"category":"X","outcome":"transient"}`), nil)
	h.consume("in", "b", []byte(`{"category":"Y"}`), nil)
	wait.For(t, 10*time.Second, "the DLQ write to fail", func() bool { return fwd.attempts() >= 1 })
	h.cancel()
	h.p.Wait() // the revoke is done: it did not wait for the failing write
	if got := h.commits.count("in"); got != 0 {
		t.Fatalf("%d records committed past a record that was never written", got)
	}
	if h.commits.errs != 2 {
		t.Fatalf("%d releases with an error, want 2 (the record let go and the one after it)", h.commits.errs)
	}
	if s := h.p.Stats(); s.LetGo != 1 {
		t.Fatalf("stats say %d let go, want 1", s.LetGo)
	}
}
