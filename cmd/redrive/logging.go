package main

import (
	"fmt"
	"io"
	"log/slog"
)

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
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format: %q is not json or text", c.format)
}
