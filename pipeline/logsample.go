package pipeline

import (
	"sync"
	"time"
)

// logSampler lets one log line per key through per interval and counts the
// rest, so that a burst of bad records cannot flood the logs while the first
// of each kind is still seen with its coordinates.
type logSampler struct {
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newLogSampler(every time.Duration, now func() time.Time) *logSampler {
	return &logSampler{every: every, now: now, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether a line for key may be logged now and how many were
// suppressed since the last one.
func (s *logSampler) allow(key string) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if last, seen := s.last[key]; seen && now.Sub(last) < s.every {
		s.suppressed[key]++
		return false, 0
	}
	s.last[key] = now
	n := s.suppressed[key]
	s.suppressed[key] = 0
	return true, n
}
