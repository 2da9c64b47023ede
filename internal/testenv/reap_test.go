package testenv

import (
	"os/exec"
	"testing"
	"time"
)

// TestReap_AnswersWithoutBlocking proves that a reaped process can be
// asked whether it has ended, and how, both while it runs and after.
func TestReap_AnswersWithoutBlocking(t *testing.T) {
	running := exec.Command("sleep", "60")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	r := Reap(running)
	t.Cleanup(func() { _ = running.Process.Kill(); <-r.Done() })
	if r.Exited() || r.ExitsWithin(10*time.Millisecond) || r.Err() != nil || !r.ExitAt().IsZero() {
		t.Fatalf("a running process: Exited %v, Err %v, ExitAt %v", r.Exited(), r.Err(), r.ExitAt())
	}

	failing := exec.Command("sh", "-c", "exit 3")
	if err := failing.Start(); err != nil {
		t.Fatal(err)
	}
	f := Reap(failing)
	if !f.ExitsWithin(30 * time.Second) {
		t.Fatal("sh -c 'exit 3' did not exit within 30 s")
	}
	if !f.Exited() || f.Err() == nil || f.ExitAt().IsZero() {
		t.Fatalf("an ended process: Exited %v, Err %v, ExitAt %v", f.Exited(), f.Err(), f.ExitAt())
	}
}
