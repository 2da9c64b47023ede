package main

import (
	"fmt"
	"io"
	"log/slog"
)

// durationsAsText writes durations as Go writes them ("30s", "1m30s")
// instead of slog's JSON default, integer nanoseconds: "grace":30000000000
// is hard to read in a log line and easy to misread by a factor of 1000.
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// logConfig selects the log level and format.
type logConfig struct {
	level  string
	format string
}

func bindLogFlags(fs flagSet, c *logConfig, defFormat string) {
	fs.str(&c.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.str(&c.format, "log-format", defFormat, "log format: json or text")
}

func (c logConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.level)); err != nil {
		return nil, fmt.Errorf("log-level: %q is not debug, info, warn or error", c.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.format {
	case "json":
		jsonOpts := *opts
		jsonOpts.ReplaceAttr = durationsAsText
		return slog.New(slog.NewJSONHandler(w, &jsonOpts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format: %q is not json or text", c.format)
}
