package inspect

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redrive-io/redrive/dlq"
)

func TestDLQAge(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {45 * time.Second, "45s"}, {12*time.Minute + 59*time.Second, "12m"},
		{3*time.Hour + 5*time.Minute, "3h5m"}, {52 * time.Hour, "2d4h"},
	} {
		if got := Age(c.d); got != c.want {
			t.Errorf("Age(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestDLQPreviewAndKeys(t *testing.T) {
	for _, c := range []struct {
		v    string
		n    int
		want string
	}{
		{`{"a": 1,` + "\n\t" + `"b": 2}`, 60, `{"a": 1, "b": 2}`},
		{"abcdef", 4, "abc…"},
		{"\xff\xfe", 10, "<2 bytes, not text>"},
	} {
		if got := Preview([]byte(c.v), c.n); got != c.want {
			t.Errorf("Preview(%q) = %q, want %q", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		k    []byte
		want string
	}{{nil, "-"}, {[]byte{}, `""`}, {[]byte("k-1"), "k-1"}, {[]byte("a b"), `"a b"`}, {[]byte{0}, `"\x00"`}} {
		if got := keyText(c.k, 20); got != c.want {
			t.Errorf("keyText(%q) = %q, want %q", c.k, got, c.want)
		}
	}
}

func TestDLQRecordJSON(t *testing.T) {
	env := dlq.Envelope{Origin: dlq.Origin{Topic: "in", Partition: 1, Offset: 2}, Attempt: 3, FirstFailure: t0, ErrorClass: "http_5xx", Error: "503", NotBefore: t0.Add(time.Minute),
		OriginTime: t0.Add(-time.Hour)}
	r := Record{Topic: Topic{Name: "in.dlq", Role: RoleDLQ}, Partition: 1, Offset: 9, Timestamp: t0, Key: []byte("k"), Value: []byte(`{"a":1}`), Headers: env.Headers(), Envelope: env}
	b, _ := json.Marshal(NewRecordJSON(r))
	var back map[string]any
	json.Unmarshal(b, &back) //nolint:errcheck
	for k, want := range map[string]any{
		"topic": "in.dlq", "role": "dlq", "partition": 1.0, "offset": 9.0, "key": "k", "attempt": 3.0, "error_class": "http_5xx",
		"first_failure": "2026-01-02T10:00:00Z", "not_before": "2026-01-02T10:01:00Z", "replay": nil, "replayed_at": nil, "value_encoding": "json",
		"origin_time": "2026-01-02T09:00:00Z",
	} {
		if back[k] != want {
			t.Errorf("JSON %s = %v, want %v", k, back[k], want)
		}
	}
	if o, _ := back["origin"].(map[string]any); o["topic"] != "in" || o["offset"] != 2.0 {
		t.Errorf("JSON origin %v", back["origin"])
	}
	if v, _ := back["value"].(map[string]any); v["a"] != 1.0 {
		t.Errorf("JSON value %v: want the value as JSON", back["value"])
	}
	if h, _ := back["headers"].(map[string]any); h[dlq.HeaderAttempt] != "3" {
		t.Errorf("JSON headers %v", back["headers"])
	}

	for _, c := range []struct {
		v       []byte
		enc     string
		encoded string
	}{{[]byte("not json"), "text", `"not json"`}, {[]byte{0xff}, "base64", `"/w=="`}, {nil, "json", "null"}} {
		j := NewRecordJSON(Record{Value: c.v, EnvelopeErr: dlq.ErrNoEnvelope})
		if j.ValueEncoding != c.enc || string(j.Value) != c.encoded || j.ErrorClass != ClassBadEnvelope || j.EnvelopeError == "" || j.Key != nil || j.Origin != nil {
			t.Errorf("value %q: %+v", c.v, j)
		}
	}
}

func TestDLQTablesAndShow(t *testing.T) {
	f := fillParking(t)
	now := t0.Add(2 * time.Hour)
	var recs []Record
	Scanner{Reader: f}.Select(t.Context(), parkingTopic, Filter{}, SelectOptions{}, func(r []Record) error { recs = append(recs, r...); return nil }) //nolint:errcheck
	var buf bytes.Buffer
	tab := NewRecordTable(&buf, now)
	for _, r := range recs {
		tab.Add(r)
	}
	tab.Flush() //nolint:errcheck
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 8 || !strings.HasPrefix(lines[0], "TOPIC") {
		t.Fatalf("table:\n%s", buf.String())
	}
	for i, want := range map[int][]string{
		1: {"parking", "0:0", "k0", "0", "http_4xx", "2h0m", "-", `{"key":"k0"}`},
		2: {"parking", "0:1", "k1", "0", "http_4xx", "1h59m", "yes", `{"key":"k1"}`},
		7: {"parking", "2:2", "k6", "-", "bad_envelope", "2h0m", "-", "raw"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("table line %d = %q, want %q", i, got, want)
		}
	}
	if got := strings.Fields(Line(recs[1], now)); strings.Join(got, " ") != "parking 0:1 k1 0 http_4xx 1h59m yes {\"key\":\"k1\"}" {
		t.Errorf("Line = %q", got)
	}

	buf.Reset()
	if err := WriteShow(&buf, recs[1], now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"record         in.parking 0:1 (parking topic)", "attempt        0", "error class    http_4xx", "origin         in/0@11",
		"replayed       2026-01-02T11:00:00Z (1h0m ago) to in/0@99 (marker 0:3)", "  redrive-origin-offset: 11", "  {\n    \"key\": \"k1\"\n  }",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, buf.String())
		}
	}

	buf.Reset()
	ts, _ := Scanner{Reader: f}.Stats(t.Context(), parkingTopic)
	if err := WriteStatsTable(&buf, []TopicStats{ts}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "bad_envelope=1 exhausted=2 http_4xx=3 malformed=1") || !strings.Contains(buf.String(), "0=4 20=2") {
		t.Errorf("stats table:\n%s", buf.String())
	}
}

func TestDLQProgressBar(t *testing.T) {
	var buf bytes.Buffer
	now := t0
	b := NewProgressBar(&buf, "scanning x", func() time.Time { return now })
	b.Clear()
	if buf.Len() != 0 {
		t.Errorf("Clear before drawing wrote %q", buf.String())
	}
	b.Update(1, 10)
	b.Update(2, 10) // within 100 ms: not drawn
	now = now.Add(time.Second)
	b.Update(5, 10)
	b.Update(10, 10) // the end is always drawn
	draws := strings.Split(buf.String(), "\r")[1:]
	if len(draws) != 3 || !strings.Contains(draws[1], "[===============               ] 5/10  50%") || !strings.HasSuffix(draws[2], "10/10 100%") {
		t.Errorf("draws %q", draws)
	}
	b.Clear()
	if !strings.HasSuffix(buf.String(), "\r\033[K") {
		t.Errorf("Clear did not erase the line: %q", buf.String())
	}
}

// A record parked reduced (invariant 9) says in show and in JSON that its
// value is truncated, how large the whole value was, its digest, and where
// the whole record still is.
func TestDLQShowsAReducedRecord(t *testing.T) {
	env := dlq.Envelope{Origin: dlq.Origin{Topic: "in", Partition: 2, Offset: 40}, FirstFailure: t0}
	env, value := dlq.Reduce(env, []byte(`{"blob":"0123456789"}`), 5, "too large for in.parking")
	r := Record{Topic: Topic{Name: "in.parking", Role: RoleParking}, Partition: 2, Offset: 7, Key: []byte("k"), Value: value, Headers: env.Headers(), Timestamp: t0}
	r.Envelope, r.EnvelopeErr = dlq.ParseHeaders(env.Headers())
	var buf bytes.Buffer
	if err := WriteShow(&buf, r, t0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"error class    oversize", "truncated      yes: only the first 5 of 21 bytes", env.Reduced.SHA256, "origin in/2@40"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, buf.String())
		}
	}
	j := NewRecordJSON(r)
	if j.Truncated == nil || j.Truncated.Size != 21 || j.Truncated.SHA256 != env.Reduced.SHA256 {
		t.Errorf("JSON truncated = %+v", j.Truncated)
	}
}
