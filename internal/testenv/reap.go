package testenv

import (
	"os/exec"
	"time"

	"github.com/redrive-io/redrive/internal/ctxwait"
)

// Reaped is a started command that a goroutine of its own waits for at
// once, so that an ended process never lingers as a zombie (which still
// looks alive to a pid check) and whether it has ended can be asked without
// blocking. The servers here and the bench's measured children share it.
type Reaped struct {
	done   chan struct{} // closed once the process has exited and been reaped
	err    error         // the exit status; set before done is closed
	exitAt time.Time     // set before done is closed
}

// Reap waits for cmd, which must have been started, in a new goroutine.
func Reap(cmd *exec.Cmd) *Reaped {
	r := &Reaped{done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		r.err, r.exitAt = err, time.Now()
		close(r.done)
	}()
	return r
}

// Done is closed once the process has exited and been reaped.
func (r *Reaped) Done() <-chan struct{} { return r.done }

// Exited tells whether the process has exited and been reaped.
func (r *Reaped) Exited() bool { return ctxwait.Closed(r.done) }

// ExitsWithin waits up to d for the process to exit and tells whether it
// did.
func (r *Reaped) ExitsWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.done:
		return true
	case <-t.C:
		return false
	}
}

// Err is the process's exit status: nil for exit code 0, and nil while it
// runs.
func (r *Reaped) Err() error {
	if !r.Exited() {
		return nil
	}
	return r.err
}

// ExitAt is when the process was reaped, zero while it runs.
func (r *Reaped) ExitAt() time.Time {
	if !r.Exited() {
		return time.Time{}
	}
	return r.exitAt
}
