package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"testing"
)

// `redrive version` and `redrive --version` print the build (before, the
// latter failed with `unknown flag "version"`); the link-time stamps of the
// Makefile and Dockerfile win over the module's build information.
func TestVersionCommandAndFlag(t *testing.T) {
	version, commit = "v9.8.7", "abc123"
	t.Cleanup(func() { version, commit = "", "" })
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("%q: %v (stderr %q)", args, err, errOut.String())
		}
		want := "redrive v9.8.7 (commit abc123, " + runtime.Version() + ")\n"
		if out.String() != want {
			t.Errorf("%q printed %q, want %q", args, out.String(), want)
		}
	}
}

// REDRIVE_VERSION in the environment, set by a deployment for its own
// use, must not change what any command does.
func TestVersionEnvVarIsNotAFlag(t *testing.T) {
	t.Setenv("REDRIVE_VERSION", "1.2.3")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if _, err := parseRunArgs(minimalRun); err != nil {
		t.Fatal(err)
	}
}

// Without stamps the version still says something.
func TestBuildInfoDefaults(t *testing.T) {
	b := readBuildInfo()
	if b.Version == "" || b.Commit == "" || b.GoVersion != runtime.Version() {
		t.Errorf("%+v", b)
	}
}

// redrive_build_info is served with the build's labels on the registry
// that `redrive run` hands the topology.
func TestBuildInfoMetric(t *testing.T) {
	reg := newRegistry(buildInfo{Version: "v1", Commit: "c0ffee", GoVersion: "go1.26"})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
		if mf.GetName() != "redrive_build_info" {
			continue
		}
		m := mf.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["version"] != "v1" || labels["commit"] != "c0ffee" || labels["goversion"] != "go1.26" || m.GetGauge().GetValue() != 1 {
			t.Errorf("redrive_build_info %v = %v", labels, m.GetGauge().GetValue())
		}
	}
	for _, name := range []string{"redrive_build_info", "go_goroutines", "process_cpu_seconds_total"} {
		if !found[name] && !(name == "process_cpu_seconds_total" && runtime.GOOS != "linux") {
			t.Errorf("%s is not served", name)
		}
	}
}

// The Makefile and the Dockerfile stamp the variables this package reads:
// renaming one without the other would ship binaries that say "(devel)".
func TestBuildFilesStampTheVersion(t *testing.T) {
	for _, path := range []string{"../../Makefile", "../../Dockerfile"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"-X main.version=", "-X main.commit="} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s does not stamp %s", path, want)
			}
		}
	}
}
