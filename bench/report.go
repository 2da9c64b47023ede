package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// results is everything one run measured; it is written as JSON and
// summarised as the Markdown table.
type results struct {
	Started      time.Time        `json:"started"`
	Finished     time.Time        `json:"finished"`
	Command      string           `json:"command"`
	Quick        bool             `json:"quick"`
	RedriveFlags string           `json:"redrive_flags,omitempty"`
	RedriveEnv   string           `json:"redrive_env,omitempty"`
	Services     string           `json:"services"` // "real" or "embedded"
	ServicesInfo string           `json:"services_info"`
	Commit       string           `json:"commit"`
	GoVersion    string           `json:"go_version"`
	CPUs         int              `json:"cpus"`
	LoadStart    string           `json:"load_avg_start"`
	LoadEnd      string           `json:"load_avg_end"`
	Logs         string           `json:"logs"`
	Rows         []row            `json:"table"`
	PassThrough  *passResult      `json:"pass_through,omitempty"`
	Objects      *objectsResult   `json:"s3_objects,omitempty"`
	Enrichment   *enrichResult    `json:"enrichment,omitempty"`
	Table        *tableResult     `json:"lookup_table,omitempty"`
	Outage       *outageResult    `json:"outage,omitempty"`
	Backlog      *backlogResult   `json:"backlog,omitempty"`
	Rebalance    *rebalanceResult `json:"rebalance,omitempty"`
	Profile      *profileResult   `json:"profile,omitempty"`
	Heap         *heapResult      `json:"heap_profile,omitempty"`
	Errors       []workloadError  `json:"errors,omitempty"`
}

// workloadError is a workload that could not finish; the others still ran.
type workloadError struct {
	Workload string `json:"workload"`
	Error    string `json:"error"`
}

// row is one line of the table. Status is "ok" or "MISS" against the
// target, "-" where there is none, "FAIL" for a workload that broke.
type row struct {
	Workload  string `json:"workload"`
	Figure    string `json:"figure"`
	Redrive   string `json:"redrive"`
	Reference string `json:"reference"` // the baseline or the ideal, measured in the same run
	Ratio     string `json:"ratio"`
	Target    string `json:"target"`
	Status    string `json:"status"`
}

// add appends a row.
func (r *results) add(workload, figure, redrive, reference, ratio, target string, ok *bool) {
	status := "-"
	if ok != nil {
		status = "MISS"
		if *ok {
			status = "ok"
		}
	}
	r.Rows = append(r.Rows, row{workload, figure, redrive, reference, ratio, target, status})
}

// fail records a workload that broke.
func (r *results) fail(workload string, err error) {
	r.Errors = append(r.Errors, workloadError{workload, err.Error()})
	r.Rows = append(r.Rows, row{workload, "(did not finish)", "", "", "", "", "FAIL"})
}

// check is a *bool for add.
func check(ok bool) *bool { return &ok }

// writeTable prints the Markdown report: what ran where, then the table.
func (r *results) writeTable(w io.Writer) {
	fmt.Fprintf(w, "\n## redrive benchmark (%s)\n\n", r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "- command: `%s`\n", r.Command)
	fmt.Fprintf(w, "- services: **%s**: %s\n", r.Services, r.ServicesInfo)
	if r.RedriveFlags != "" {
		fmt.Fprintf(w, "- extra redrive flags on every run: `%s` (not the defaults)\n", r.RedriveFlags)
	}
	if r.RedriveEnv != "" {
		fmt.Fprintf(w, "- extra redrive environment on every run: `%s`\n", r.RedriveEnv)
	}
	fmt.Fprintf(w, "- commit %s, %s, %d CPUs, load average %s at start, %s at end; took %s\n",
		r.Commit, r.GoVersion, r.CPUs, r.LoadStart, r.LoadEnd, r.Finished.Sub(r.Started).Round(time.Second))
	fmt.Fprintf(w, "- every reference figure was measured in this run on the same broker; ratio = redrive / reference\n\n")
	fmt.Fprintln(w, "| workload | figure | redrive | reference (same run) | ratio | target | status |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, x := range r.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n",
			x.Workload, x.Figure, x.Redrive, x.Reference, x.Ratio, x.Target, x.Status)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\n**%s did not finish:** %s\n", e.Workload, strings.ReplaceAll(e.Error, "\n", "\n    "))
	}
	if r.Profile != nil {
		fmt.Fprintf(w, "\n### Where pass-through time goes (CPU profile of an in-process run of %d records)\n\n", r.Profile.Records)
		fmt.Fprintf(w, "profiles: %s, %s (minus %s)\n\n```\n%s\n```\n", r.Profile.CPUProfile, r.Profile.AllocProfile, r.Profile.AllocBase, r.Profile.Top)
		if r.Profile.HeapTop != "" {
			fmt.Fprintf(w, "\n```\n%s\n```\n", r.Profile.HeapTop)
		}
		if r.Profile.Grouped != "" {
			fmt.Fprintf(w, "\nCumulative CPU by stage:\n\n```\n%s\n```\n", r.Profile.Grouped)
		}
	}
	if h := r.Heap; h != nil {
		fmt.Fprintf(w, "\n### Where backlog memory goes (heap profile of an in-process run of %d records, API down)\n\n", h.Records)
		fmt.Fprintf(w, "peak heap in use %.0f MiB (runtime Sys %.0f MiB) at %.0f s, holding %.0f records (pending and waiting): %.1f KiB of heap per held record; profile: %s\n\n```\n%s\n\ncumulative:\n%s\n```\n",
			h.PeakHeapMiB, h.PeakSysMiB, h.AtSeconds, h.HeldAtPeak, h.HeapPerHeldKiB, h.HeapProfile, h.Top, h.Cumulative)
	}
	fmt.Fprintf(w, "\nchildren's logs: %s\n", r.Logs)
}

// writeJSON writes the results under dir as bench-<time>.json and returns
// the path.
func (r *results) writeJSON(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "bench-"+r.Started.UTC().Format("20060102T150405Z")+".json")
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(data, '\n'), 0o644)
}

// Formatting helpers for the table.
func fnum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}
