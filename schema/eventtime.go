package schema

import (
	"math"
	"strconv"
	"time"
)

// epochMillisFrom is the smallest epoch number read as milliseconds: as
// seconds it would lie after the year 5000, as milliseconds it is March
// 1973, so no plausible event time of either unit is misread.
const epochMillisFrom = 1e11

// EventTime reads a time the way redrive reads event times in records
// (--partition-time field:NAME and timestamp columns), given the value as
// encoding/json decodes it into an any: a string in RFC 3339 (or holding
// an epoch number), or a number of epoch seconds or milliseconds. ok is
// false for anything else, including NaN-like and out-of-range numbers.
func EventTime(v any) (t time.Time, ok bool) {
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t, true
		}
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return time.Time{}, false
		}
		return epochTime(f)
	case float64:
		return epochTime(x)
	}
	return time.Time{}, false
}

// epochTime reads f as epoch seconds, or milliseconds from epochMillisFrom.
func epochTime(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return time.Time{}, false
	}
	if f >= epochMillisFrom {
		if f > 1e15 { // past the year 33000 even as milliseconds
			return time.Time{}, false
		}
		return time.UnixMilli(int64(f)).UTC(), true
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
