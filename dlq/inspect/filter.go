package inspect

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filter selects records. The zero Filter selects every record.
type Filter struct {
	// Classes keeps records whose error class is one of these; empty keeps
	// all. A record whose envelope cannot be decoded has ClassBadEnvelope.
	Classes []string
	// Key keeps records whose key is exactly this; empty keeps all.
	Key string
	// Since and Until keep records that first failed at or after Since and
	// before Until (see Record.FailedAt); zero bounds are open.
	Since, Until time.Time
	// MinAttempts keeps records with at least this many failed attempts.
	MinAttempts int
	// Limit stops after this many records; 0 is no limit.
	Limit int
}

// Validate reports the first field that cannot select anything sensible,
// naming its flag.
func (f Filter) Validate() error {
	switch {
	case f.MinAttempts < 0:
		return fmt.Errorf("min-attempts: %d is negative", f.MinAttempts)
	case f.Limit < 0:
		return fmt.Errorf("limit: %d is negative (0 means no limit)", f.Limit)
	case !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until):
		return fmt.Errorf("since and until: since %s is not before until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	for _, c := range f.Classes {
		if c == "" || strings.ContainsAny(c, " \t=") {
			return fmt.Errorf("error: %q is not an error class like http_4xx or malformed", c)
		}
	}
	return nil
}

// Match reports whether r passes every condition but the limit.
func (f Filter) Match(r Record) bool {
	if len(f.Classes) > 0 && !slices.Contains(f.Classes, r.Class()) {
		return false
	}
	if f.Key != "" && string(r.Key) != f.Key {
		return false
	}
	t := r.FailedAt()
	if !f.Since.IsZero() && t.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !t.Before(f.Until) {
		return false
	}
	if f.MinAttempts > 0 && (r.EnvelopeErr != nil || r.Envelope.Attempt < f.MinAttempts) {
		return false
	}
	return true
}

// ParseTime reads a --since or --until value: an RFC 3339 time, or a
// duration meaning that long before now (2h, 90m, 3d).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := parseAgo(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time like 2026-01-02T15:04:05Z nor a duration like 2h, 90m or 3d (meaning that long ago)", s)
}

// parseAgo parses a non-negative Go duration, or a whole number of days.
func parseAgo(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, errors.New("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("bad duration")
	}
	return d, nil
}
