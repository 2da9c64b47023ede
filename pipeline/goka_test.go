package pipeline

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/IBM/sarama"
)

// closeErrGroup is a consumer group whose Close fails with err.
type closeErrGroup struct {
	sarama.ConsumerGroup
	err error
}

func (g closeErrGroup) Close() error { return g.err }

func TestClosingGroupDropsOnlyStaleConsumptionReports(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	stale := &sarama.ConsumerError{Topic: "in", Partition: 1, Err: errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")}
	if err := (closingGroup{closeErrGroup{err: stale}, quiet}).Close(); err != nil {
		t.Errorf("a consumption report drained at close failed the close: %v", err)
	}
	leave := sarama.ErrUnknownMemberId
	if err := (closingGroup{closeErrGroup{err: leave}, quiet}).Close(); !errors.Is(err, leave) {
		t.Errorf("Close() = %v, want the leave error %v", err, leave)
	}
	if err := (closingGroup{closeErrGroup{}, quiet}).Close(); err != nil {
		t.Errorf("Close() = %v on a clean close", err)
	}
}

// TestFetchSizesFollowTheWindows: sarama's per-response fetch bound comes
// from the process's byte window, not from the partition count, and the
// channel shrinks with a small record window.
func TestFetchSizesFollowTheWindows(t *testing.T) {
	c := Config{}
	c.SetDefaults()
	part, resp, ch := fetchSizes(c)
	if part != int32(c.FetchBytes) || resp != int32(c.MaxPendingBytesTotal/8) || ch != 64 {
		t.Fatalf("defaults: fetch %d per partition, %d per response, channel %d", part, resp, ch)
	}
	c.MaxPendingBytesTotal, c.MaxPending = 1<<20, 40
	if _, resp, ch = fetchSizes(c); resp != int32(c.FetchBytes) || ch != 2 {
		t.Fatalf("small windows: %d per response (want at least one partition's fetch), channel %d", resp, ch)
	}
}
