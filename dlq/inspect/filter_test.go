package inspect

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

func TestDLQParseTime(t *testing.T) {
	now := time.Date(2026, 5, 6, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), true},
		{"2026-01-02T15:04:05.123+02:00", time.Date(2026, 1, 2, 13, 4, 5, 123e6, time.UTC), true},
		{"2h", now.Add(-2 * time.Hour), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{" 3d ", now.Add(-72 * time.Hour), true},
		{"0s", now, true},
		{"yesterday", time.Time{}, false},
		{"-5m", time.Time{}, false},
		{"-1d", time.Time{}, false},
		{"1.5d", time.Time{}, false},
		{"", time.Time{}, false},
		{"2026-13-02T15:04:05Z", time.Time{}, false},
		{"2026-01-02", time.Time{}, false},
	} {
		got, err := ParseTime(c.in, now)
		if (err == nil) != c.ok || !got.Equal(c.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), `"`+strings.TrimSpace(c.in)+`"`) {
			t.Errorf("ParseTime(%q): error %q does not quote the value", c.in, err)
		}
	}
}

func TestDLQParseCoord(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Coord
		ok   bool
	}{
		{"3:1042", Coord{3, 1042}, true},
		{" 0:0 ", Coord{0, 0}, true},
		{"3-1042", Coord{}, false},
		{"3:", Coord{}, false},
		{":5", Coord{}, false},
		{"-1:5", Coord{}, false},
		{"1:-5", Coord{}, false},
		{"a:b", Coord{}, false},
		{"99999999999:1", Coord{}, false},
	} {
		got, err := ParseCoord(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseCoord(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	if got := (Coord{2, 7}).String(); got != "2:7" {
		t.Errorf("Coord.String = %q", got)
	}
}

func TestDLQFilterMatch(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	rec := func(class string, attempt int, first time.Time, key string) Record {
		return Record{Key: []byte(key), Timestamp: t0.Add(time.Hour),
			Envelope: dlq.Envelope{ErrorClass: class, Attempt: attempt, FirstFailure: first}}
	}
	bad := Record{Key: []byte("b"), Timestamp: t0.Add(time.Minute), EnvelopeErr: dlq.ErrNoEnvelope}
	noFirst := rec("http_4xx", 0, time.Time{}, "k") // falls back to the record's timestamp
	for _, c := range []struct {
		name string
		f    Filter
		r    Record
		want bool
	}{
		{"zero filter keeps all", Filter{}, rec("x", 0, t0, "k"), true},
		{"zero filter keeps bad envelopes", Filter{}, bad, true},
		{"class in list", Filter{Classes: []string{"a", "http_4xx"}}, rec("http_4xx", 0, t0, "k"), true},
		{"class not in list", Filter{Classes: []string{"a"}}, rec("http_4xx", 0, t0, "k"), false},
		{"bad envelope has its class", Filter{Classes: []string{ClassBadEnvelope}}, bad, true},
		{"key equal", Filter{Key: "k"}, rec("x", 0, t0, "k"), true},
		{"key differs", Filter{Key: "k"}, rec("x", 0, t0, "k2"), false},
		{"since is inclusive", Filter{Since: t0}, rec("x", 0, t0, "k"), true},
		{"before since", Filter{Since: t0}, rec("x", 0, t0.Add(-time.Nanosecond), "k"), false},
		{"until is exclusive", Filter{Until: t0}, rec("x", 0, t0, "k"), false},
		{"before until", Filter{Until: t0}, rec("x", 0, t0.Add(-time.Nanosecond), "k"), true},
		{"no first failure uses the timestamp", Filter{Since: t0.Add(30 * time.Minute)}, noFirst, true},
		{"bad envelope uses the timestamp", Filter{Until: t0.Add(2 * time.Minute)}, bad, true},
		{"min attempts met", Filter{MinAttempts: 2}, rec("x", 2, t0, "k"), true},
		{"min attempts not met", Filter{MinAttempts: 3}, rec("x", 2, t0, "k"), false},
		{"min attempts excludes bad envelopes", Filter{MinAttempts: 1}, bad, false},
		{"all conditions", Filter{Classes: []string{"x"}, Key: "k", Since: t0, Until: t0.Add(time.Hour), MinAttempts: 1}, rec("x", 1, t0, "k"), true},
	} {
		if got := c.f.Match(c.r); got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDLQFilterValidate(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		f    Filter
		flag string // "" when valid
	}{
		{Filter{}, ""},
		{Filter{Classes: []string{"http_4xx"}, Since: t0, Until: t0.Add(time.Second), MinAttempts: 1, Limit: 5}, ""},
		{Filter{MinAttempts: -1}, "min-attempts"},
		{Filter{Limit: -1}, "limit"},
		{Filter{Since: t0, Until: t0}, "since and until"},
		{Filter{Classes: []string{""}}, "error"},
		{Filter{Classes: []string{"http 4xx"}}, "error"},
	} {
		err := c.f.Validate()
		if (err == nil) != (c.flag == "") || err != nil && !strings.HasPrefix(err.Error(), c.flag+":") {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", c.f, err, c.flag)
		}
	}
}

func TestDLQTopicNotFoundError(t *testing.T) {
	err := error(&TopicNotFoundError{Topic: "t.dlq", Brokers: []string{"a:1", "b:2"}})
	if !errors.Is(err, ErrTopicNotFound) || err.Error() != `topic "t.dlq" does not exist on brokers a:1,b:2` {
		t.Errorf("TopicNotFoundError: %v", err)
	}
}
