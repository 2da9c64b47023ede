package main

import (
	"fmt"
	"io"
	"time"
)

// replayProgress writes a line on stderr while replay sends, at most every
// interval and once at the end: how many were sent of how many, the rate
// so far and the time left. At the default rate 100,000 records take 17
// minutes, which otherwise pass without a word.
type replayProgress struct {
	w        io.Writer
	now      func() time.Time
	interval time.Duration
	total    int     // records to send
	rate     float64 // the --rate limit; 0 is none
	// beforeLine, when set, runs before each line: it clears the scan's
	// progress bar on a terminal, so that the two do not overwrite.
	beforeLine func()

	start, last time.Time
	done        int
}

func newReplayProgress(w io.Writer, now func() time.Time, total int, rate float64) *replayProgress {
	p := &replayProgress{w: w, now: now, interval: 5 * time.Second, total: total, rate: rate}
	p.start = now()
	p.last = p.start
	eta := ""
	if rate > 0 {
		eta = fmt.Sprintf(", about %s at most %g/s", roundDuration(time.Duration(float64(total)/rate*float64(time.Second))), rate)
	}
	fmt.Fprintf(w, "replay: sending %d records%s\n", total, eta)
	return p
}

// add counts n more records handled (sent or failed).
func (p *replayProgress) add(n int) {
	p.done += n
	t := p.now()
	if p.done < p.total && t.Sub(p.last) < p.interval {
		return
	}
	p.last = t
	elapsed := t.Sub(p.start)
	line := fmt.Sprintf("replay: %d/%d sent (%.0f%%)", p.done, p.total, 100*float64(p.done)/float64(max(p.total, 1)))
	if elapsed > 0 && p.done > 0 {
		rate := float64(p.done) / elapsed.Seconds()
		line += fmt.Sprintf(", %.0f/s", rate)
		if left := p.total - p.done; left > 0 {
			line += fmt.Sprintf(", about %s left", roundDuration(time.Duration(float64(left)/rate*float64(time.Second))))
		}
	}
	if p.beforeLine != nil {
		p.beforeLine()
	}
	fmt.Fprintln(p.w, line)
}

// roundDuration rounds to the second (a tenth below ten seconds).
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
