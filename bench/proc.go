package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redrive-io/redrive/internal/testenv"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// proc is a measured child process (redrive or the baseline): its stdout and
// stderr go to a log file, and a sampler reads its memory and CPU from /proc
// while it runs. The figures that matter at the end come from the kernel's
// rusage of the reaped child, which is exact.
type proc struct {
	*testenv.Reaped // Exited, ExitAt
	name            string
	log             string // path of the combined stdout/stderr
	cmd             *exec.Cmd

	mu      sync.Mutex
	samples []procSample
}

// procSample is one reading of /proc for a running process.
type procSample struct {
	At      time.Time
	RSS     int64         // VmRSS, bytes
	HWM     int64         // VmHWM (peak RSS so far), bytes
	CPU     time.Duration // utime+stime so far
	Threads int
}

// startProc starts bin with args and env (added to this process's
// environment) and samples it every interval until it exits. The child dies
// with this process (parent-death signal), so an interrupted benchmark
// leaves nothing behind.
func startProc(name, logPath string, env []string, interval time.Duration, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", name, err)
	}
	defer f.Close() // the child holds its own copy
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", name, bin, err)
	}
	p := &proc{Reaped: testenv.Reap(cmd), name: name, log: logPath, cmd: cmd}
	go p.sampleLoop(interval)
	return p, nil
}

// Pid is the child's process id.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

func (p *proc) sampleLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if s, err := readProc(p.Pid()); err == nil {
			p.mu.Lock()
			p.samples = append(p.samples, s)
			p.mu.Unlock()
		}
		select {
		case <-p.Done():
			return
		case <-t.C:
		}
	}
}

// CPUNow is the child's CPU time so far, read from /proc.
func (p *proc) CPUNow() (time.Duration, error) {
	s, err := readProc(p.Pid())
	return s.CPU, err
}

// Signal sends sig to the child.
func (p *proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Wait waits up to timeout for the child to exit on its own, and reports
// a non-zero exit; past timeout it kills the child and reports that.
func (p *proc) Wait(timeout time.Duration) error {
	if p.ExitsWithin(timeout) {
		return p.ExitErr()
	}
	_ = p.cmd.Process.Kill()
	<-p.Done()
	return fmt.Errorf("%s did not exit within %s; killed (log: %s)", p.name, timeout, p.log)
}

// Stop sends SIGTERM, waits up to grace for a clean exit and returns how
// long the child took to exit.
func (p *proc) Stop(grace time.Duration) (time.Duration, error) {
	at := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	err := p.Wait(grace)
	return p.ExitAt().Sub(at), err
}

// stopMeasured stops the child as Stop does and returns how long it took
// to exit and its peak RSS over its whole life, stop included, in MiB (0
// when the kernel kept no account).
func (p *proc) stopMeasured(grace time.Duration) (stopSeconds, lifePeakMiB float64, err error) {
	took, err := p.Stop(grace)
	if err != nil {
		return 0, 0, err
	}
	if _, peak, err := p.Usage(); err == nil {
		lifePeakMiB = mib(peak)
	}
	return took.Seconds(), lifePeakMiB, nil
}

// Kill ends the child at once (used only on the way out of a failed run).
func (p *proc) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
		<-p.Done()
	}
}

// ExitErr is the child's exit status error, nil for exit code 0; only
// meaningful once it exited.
func (p *proc) ExitErr() error {
	if err := p.Err(); err != nil {
		return fmt.Errorf("%s: %w (log: %s)", p.name, err, p.log)
	}
	return nil
}

// exitedEarly explains a child that exited before it was done: its exit
// status and the end of its log.
func (p *proc) exitedEarly(before string) error {
	return fmt.Errorf("%s exited before %s: %v\n%s", p.name, before, p.ExitErr(), tail(p.log, 15))
}

// Usage is the kernel's account of the reaped child: CPU time (user+system)
// and peak RSS. It fails while the child runs.
func (p *proc) Usage() (cpu time.Duration, maxRSS int64, err error) {
	if !p.Exited() {
		return 0, 0, errors.New(p.name + ": still running")
	}
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, errors.New(p.name + ": no rusage")
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, ru.Maxrss * 1024, nil // Maxrss is in KiB on Linux
}

// Samples returns the /proc samples taken between from and to.
func (p *proc) Samples(from, to time.Time) []procSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []procSample
	for _, s := range p.samples {
		if !s.At.Before(from) && !s.At.After(to) {
			out = append(out, s)
		}
	}
	return out
}

// readProc reads one sample of pid from /proc.
func readProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s, err
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s, err
	}
	s.RSS, s.HWM, s.Threads = parseStatus(string(status))
	s.CPU, err = parseStatCPU(string(stat))
	return s, err
}

// parseStatus extracts VmRSS and VmHWM (in bytes) and Threads from the text
// of /proc/PID/status.
func parseStatus(text string) (rss, hwm int64, threads int) {
	for line := range strings.SplitSeq(text, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			hwm = n * 1024
		case "Threads":
			threads = int(n)
		}
	}
	return rss, hwm, threads
}

// parseStatCPU returns utime+stime from the text of /proc/PID/stat. The
// command name (field 2) is in parentheses and may hold spaces, so fields are
// counted from the last ')': state is field 3, utime 14 and stime 15.
func parseStatCPU(text string) (time.Duration, error) {
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name in %q", text)
	}
	f := strings.Fields(text[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
