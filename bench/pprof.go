package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// pprofText runs `go tool pprof` with args and returns what it printed.
func pprofText(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, goCommand(), append([]string{"tool", "pprof"}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %v: %w", args, err)
	}
	return string(out), nil
}

// trimPprof drops pprof's header lines up to the "Showing nodes" line.
func trimPprof(s string) string {
	if i := strings.Index(s, "Showing nodes"); i >= 0 {
		s = s[i:]
	}
	return strings.TrimRight(s, "\n")
}

var showingRe = regexp.MustCompile(`Showing nodes accounting for ([0-9.]+)(ms|s|mins|hrs)\b`)

// pprofTotal is the CPU time of the samples whose stack matches focus (all
// samples when focus is empty).
func pprofTotal(ctx context.Context, path, focus string) (float64, error) {
	args := []string{"-top", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0"}
	if focus != "" {
		args = append(args, "-focus="+focus)
	}
	out, err := pprofText(ctx, append(args, path)...)
	if err != nil {
		return 0, err
	}
	m := showingRe.FindStringSubmatch(out)
	if m == nil {
		return 0, nil // nothing matched the focus
	}
	unit := strings.NewReplacer("mins", "m", "hrs", "h").Replace(m[2])
	d, err := time.ParseDuration(m[1] + unit)
	if err != nil {
		return 0, fmt.Errorf("pprof total %q: %w", m[0], err)
	}
	return d.Seconds(), nil
}
