package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a server process started by this test binary: the script's
// run-node/run command, which execs the server itself, so the pid is the
// server's.
type child struct {
	*Reaped
	cmd *exec.Cmd
}

// startChild starts a server in its own process group with stdout and
// stderr appended to logPath (the scripts redirect the server's own output
// to that file too; this catches what a script says before it execs).
//
// On Linux the process gets a parent-death signal (SIGKILL), so it dies with
// the test binary even when that is killed with SIGKILL or by -timeout. The
// kernel sends it when the OS thread that forked the child exits; Go only
// ends threads of goroutines that exit while locked with LockOSThread, which
// this package never does.
//
// pidPath, when not empty, gets the child's pid at once, so that the
// scripts' checks see it from the start (the script rewrites the same pid).
func startChild(logPath, pidPath, name string, args ...string) (*child, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testenv: opening %s: %w", logPath, err)
	}
	defer log.Close() // the child holds its own copy
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: starting %s: %w", name, err)
	}
	if pidPath != "" {
		if err := os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("testenv: %w", err)
		}
	}
	// Reap at once: an unreaped (zombie) server would still look alive to the
	// scripts' pid checks.
	return &child{Reaped: Reap(cmd), cmd: cmd}, nil
}

// stop sends sig to the child's process group and waits for it to exit,
// sending SIGKILL after grace. It returns nil once the process is gone.
func (c *child) stop(sig syscall.Signal, grace time.Duration) error {
	if c.Exited() {
		return nil
	}
	// The group (negative pid) also reaches anything the server forked.
	if err := syscall.Kill(-c.cmd.Process.Pid, sig); err != nil && !c.Exited() {
		return fmt.Errorf("testenv: signalling pid %d: %w", c.cmd.Process.Pid, err)
	}
	if c.ExitsWithin(grace) {
		return nil
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.Done()
	return nil
}

// parseSignal maps the names the scripts accept to signals.
func parseSignal(name string) (syscall.Signal, error) {
	switch strings.TrimPrefix(strings.ToUpper(name), "SIG") {
	case "KILL":
		return syscall.SIGKILL, nil
	case "TERM", "":
		return syscall.SIGTERM, nil
	default:
		return 0, fmt.Errorf("testenv: signal %q: want KILL or TERM", name)
	}
}

// runScript runs a script to completion and returns what it printed on
// stdout; on failure the error carries its stderr.
func runScript(ctx context.Context, path string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("testenv: %s %s: %w\n%s", path, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
