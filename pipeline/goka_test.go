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
