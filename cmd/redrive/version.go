package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/peterbourgon/ff/v4"
)

// version and commit are stamped at link time by the Makefile and the
// Dockerfile (-ldflags "-X main.version=… -X main.commit=…"). Left empty,
// they are read from the module's build information. They are set by the
// linker only, never at run time.
var (
	version string
	commit  string
)

// buildInfo is what `redrive version` prints and redrive_build_info labels.
type buildInfo struct {
	Version   string
	Commit    string
	GoVersion string
}

// readBuildInfo combines the link-time stamps with the build information Go
// records: the module version (a tag when built with go install
// module@version, "(devel)" in a checkout) and the VCS revision (go build in
// a git checkout), "-dirty" when the tree had uncommitted changes.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" {
			b.Version = bi.Main.Version
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if b.Commit == "" && rev != "" {
			b.Commit = rev + dirty
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// String is the line `redrive version` prints.
func (b buildInfo) String() string {
	return fmt.Sprintf("redrive %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
}

// newVersionCommand is `redrive version`; `redrive --version` does the same.
func newVersionCommand(stdout io.Writer) *ff.Command {
	return &ff.Command{
		Name:      "version",
		Usage:     "redrive version",
		ShortHelp: "print the version, the commit and the Go version of this binary (also: redrive --version)",
		Flags:     ff.NewFlagSet("version"),
		Exec: func(_ context.Context, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("version: unexpected arguments %q", args)}
			}
			_, err := fmt.Fprintln(stdout, readBuildInfo())
			return err
		},
	}
}
