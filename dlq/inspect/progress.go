package inspect

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// ProgressBar draws one line that it rewrites in place ("\r"), at most ten
// times a second. Give it a terminal only: in a pipe or a log it would be
// noise.
type ProgressBar struct {
	w     io.Writer
	label string
	now   func() time.Time

	mu   sync.Mutex
	last time.Time
	drew bool
}

// NewProgressBar draws on w with label in front; now is the clock (nil:
// time.Now).
func NewProgressBar(w io.Writer, label string, now func() time.Time) *ProgressBar {
	if now == nil {
		now = time.Now
	}
	return &ProgressBar{w: w, label: label, now: now}
}

// Update is a Progress: it redraws when a tenth of a second has passed, or
// at the end.
func (b *ProgressBar) Update(done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	if done < total && t.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = t
	b.drew = true
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	n := int(frac * width)
	fmt.Fprintf(b.w, "\r%s [%s%s] %d/%d %3.0f%%", b.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total, frac*100)
}

// Clear erases the line, if one was drawn.
func (b *ProgressBar) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drew {
		fmt.Fprint(b.w, "\r\033[K")
		b.drew = false
	}
}
