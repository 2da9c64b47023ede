package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/redrive-io/redrive/internal/metric"
)

// An outage is said once: the first transient fault at WARN, the ones after
// it at DEBUG, the way back at WARN with how long it lasted; each fault is
// counted by cause and waited out. A fatal fault is returned, not counted.
func TestOutage_OneLinePerStateChange(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := time.Unix(1000, 0)
	o := newOutage(log, func() time.Time { return clock }, metric.With(prometheus.NewRegistry()), outageWords{
		metric: "t_reader", upHelp: "up", restartsHelp: "restarts",
		what: "reader", lost: "reader lost", back: "reader back",
	})
	var waits int
	b := countingBackoff{&waits}
	ctx := context.Background()

	o.back()
	for range 3 {
		if retry, fatal := o.failed(ctx, b, sarama.ErrOutOfBrokers); !retry || fatal != nil {
			t.Fatalf("failed(unreachable) = %v, %v; want a retry", retry, fatal)
		}
		o.down()
	}
	clock = clock.Add(1500 * time.Millisecond)
	o.back()
	o.back() // no outage: nothing to say
	if retry, fatal := o.failed(ctx, b, sarama.ErrTopicAuthorizationFailed); retry || !errors.Is(fatal, sarama.ErrTopicAuthorizationFailed) {
		t.Fatalf("failed(auth) = %v, %v; want the fault returned", retry, fatal)
	}

	type line struct{ Level, Msg, Cause, LostFor string }
	var got []line
	dec := json.NewDecoder(&logs)
	for dec.More() {
		var l struct {
			Level, Msg, Cause string
			LostFor           string `json:"lost_for"`
		}
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		got = append(got, line{l.Level, l.Msg, l.Cause, l.LostFor})
	}
	want := []line{
		{"WARN", "reader lost", "unreachable", ""},
		{"DEBUG", "reader still failing", "unreachable", ""},
		{"DEBUG", "reader still failing", "unreachable", ""},
		{"WARN", "reader back", "", "1.5s"},
		{"ERROR", "reader failed with a fault that retrying cannot fix; stopping", "auth", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("log lines:\n%v\nwant:\n%v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if waits != 3 {
		t.Errorf("%d backoff waits, want 3 (none for the fatal fault)", waits)
	}
	if n := counterValue(o.restarts.WithLabelValues(string(FaultUnreachable))); n != 3 {
		t.Errorf("restarts{cause=unreachable} = %v, want 3", n)
	}
	if n := counterValue(o.restarts.WithLabelValues(string(FaultAuth))); n != 0 {
		t.Errorf("restarts{cause=auth} = %v, want 0: a fatal fault is no restart", n)
	}
	var up dto.Metric
	if err := o.up.Write(&up); err != nil {
		t.Fatal(err)
	}
	if v := up.GetGauge().GetValue(); v != 1 {
		t.Errorf("up = %v after back, want 1", v)
	}
}
