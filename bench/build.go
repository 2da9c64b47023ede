package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the programs under test, built from this work tree.
type binaries struct {
	Redrive  string
	Baseline string
	Commit   string // git describe of the work tree, for the report
}

// buildBinaries builds cmd/redrive and bench/baseline into dir.
func buildBinaries(ctx context.Context, dir string) (binaries, error) {
	goCmd := goCommand()
	b := binaries{Redrive: filepath.Join(dir, "redrive"), Baseline: filepath.Join(dir, "baseline")}
	for _, t := range []struct{ out, pkg string }{{b.Redrive, "./cmd/redrive"}, {b.Baseline, "./bench/baseline"}} {
		cmd := exec.CommandContext(ctx, goCmd, "build", "-o", t.out, t.pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		b.Commit = strings.TrimSpace(string(out))
	}
	return b, nil
}
