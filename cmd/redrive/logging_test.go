package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// JSON logs write durations as "30s", not as integer nanoseconds
// ("grace":30000000000), also inside groups.
func TestJSONLogsWriteDurationsAsText(t *testing.T) {
	var buf bytes.Buffer
	log, err := logConfig{level: "info", format: "json"}.logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("stopping", "grace", 30*time.Second)
	log.WithGroup("batch").Info("sealed", "age", 1500*time.Millisecond, "records", 3)
	out := buf.String()
	for _, want := range []string{`"grace":"30s"`, `"batch":{"age":"1.5s","records":3}`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
