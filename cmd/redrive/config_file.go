package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/peterbourgon/ff/v4"
	"sigs.k8s.io/yaml"
)

// parseOptions are the options every command line is parsed with: flags
// first, then REDRIVE_* environment variables, then the YAML file named by
// --config (for the commands that have it), then the defaults.
func parseOptions() []ff.Option {
	return []ff.Option{
		ff.WithEnvVarPrefix(envPrefix),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(parseYAMLConfig),
	}
}

// bindConfigFlag binds --config.
func bindConfigFlag(fs flagSet, p *string) {
	fs.str(p, "config", "", "YAML file of settings, keys named like the flags of redrive run (brokers: [a:9092, b:9092]); flags and REDRIVE_* variables win over it")
}

// parseYAMLConfig reads a YAML mapping whose keys are flag names, as
// `redrive run --print-config` writes it. A list is joined with commas (the
// list flags' syntax), a null leaves the flag alone; nested mappings are
// refused, naming the key, since no flag takes one.
func parseYAMLConfig(r io.Reader, set func(name, value string) error) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		return nil // an empty file
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("config: want a mapping of flag names to values: %w", err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := configValue(k, m[k])
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		name := strings.TrimLeft(k, "-")
		if err := set(name, *v); err != nil {
			if errors.Is(err, ff.ErrUnknownFlag) && isRunFlag(name) {
				// One file serves redrive run and redrive dlq: dlq
				// reads the connection and topic settings only.
				continue
			}
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// isRunFlag reports whether name is a flag of `redrive run`.
func isRunFlag(name string) bool {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	_, ok := fs.GetFlag(name)
	return ok
}

// configValue is the flag value of a YAML value, nil for null.
func configValue(key string, v any) (*string, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = x
	case bool:
		s = fmt.Sprint(x)
	case json.Number:
		s = x.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			p, err := configValue(key, e)
			if err != nil {
				return nil, err
			}
			if p == nil {
				return nil, fmt.Errorf("config: %s: item %d is null", key, i+1)
			}
			if strings.Contains(*p, ",") {
				return nil, fmt.Errorf("config: %s: item %d holds a comma, which separates list items", key, i+1)
			}
			parts[i] = *p
		}
		s = strings.Join(parts, ",")
	default:
		return nil, fmt.Errorf("config: %s: a %T is not a flag value (keys are flag names, values strings, numbers, booleans or lists)", key, v)
	}
	return &s, nil
}
