package dlq

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 11, 12, 123456789, time.UTC)
	for _, e := range []Envelope{
		{Origin: Origin{"events", 3, 42}, Attempt: 2, FirstFailure: at, ErrorClass: "http_5xx", Error: "503 Service Unavailable", NotBefore: at.Add(4 * time.Second)},
		{Origin: Origin{"events", 0, 0}},
		{Origin: Origin{"e", 1, 1}, Attempt: 20, ErrorClass: ClassExhausted, Replayed: at},
		{Origin: Origin{"e", 2, 7}, Attempt: 1, OriginTime: at.Add(-time.Hour)},
	} {
		got, err := ParseHeaders(e.Headers())
		if err != nil {
			t.Fatalf("parse %+v: %v", e, err)
		}
		if got != e {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
		}
	}
}

func TestEnvelopeErrorMessageIsBounded(t *testing.T) {
	e := Envelope{Origin: Origin{"t", 0, 0}, Error: strings.Repeat("é", 2000)}
	got, err := ParseHeaders(e.Headers())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Error) > maxErrorLen {
		t.Fatalf("error header of %d bytes", len(got.Error))
	}
	if !strings.HasPrefix(e.Error, got.Error) || strings.ContainsRune(got.Error, '\uFFFD') {
		t.Fatalf("truncation broke the message: %q", got.Error[len(got.Error)-8:])
	}
}

func TestParseRejectsMalformedHeaders(t *testing.T) {
	good := Envelope{Origin: Origin{"t", 1, 2}, Attempt: 1}.Headers()
	for _, tc := range []struct {
		name, key, value string
	}{
		{"attempt not a number", HeaderAttempt, "two"},
		{"negative attempt", HeaderAttempt, "-1"},
		{"bad time", HeaderNotBefore, "yesterday"},
		{"bad partition", HeaderOriginPart, "p1"},
		{"bad offset", HeaderOriginOffset, "1e3"},
		{"missing origin topic", HeaderOriginTopic, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := append([]Header(nil), good...)
			h = append(h, Header{tc.key, []byte(tc.value)})
			_, err := ParseHeaders(h)
			var me *MalformedHeaderError
			if !errors.As(err, &me) || me.Header != tc.key {
				t.Fatalf("err = %v, want a MalformedHeaderError naming %s", err, tc.key)
			}
		})
	}
	if _, err := ParseHeaders(nil); !errors.Is(err, ErrNoEnvelope) {
		t.Fatalf("no headers: err = %v, want ErrNoEnvelope", err)
	}
}

// FuzzParseHeaders: any header values decode to an envelope or an error,
// never a panic, and a decoded envelope survives a round trip.
func FuzzParseHeaders(f *testing.F) {
	f.Add("1", "2026-11-23T10:00:00Z", "t", "0", "5")
	f.Add("x", "", "", "-1", "")
	f.Fuzz(func(t *testing.T, attempt, notBefore, topic, part, offset string) {
		h := []Header{{HeaderAttempt, []byte(attempt)}, {HeaderNotBefore, []byte(notBefore)},
			{HeaderOriginTopic, []byte(topic)}, {HeaderOriginPart, []byte(part)}, {HeaderOriginOffset, []byte(offset)}}
		e, err := ParseHeaders(h)
		if err != nil {
			return
		}
		again, err := ParseHeaders(e.Headers())
		if err != nil {
			t.Fatalf("re-parse of %+v: %v", e, err)
		}
		if !again.NotBefore.Equal(e.NotBefore) || again.Attempt != e.Attempt || again.Origin != e.Origin {
			t.Fatalf("round trip changed %+v into %+v", e, again)
		}
	})
}
