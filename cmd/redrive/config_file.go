package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/peterbourgon/ff/v4"
	"go.yaml.in/yaml/v3"
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
// `redrive run --print-config` writes it. Each value is taken as it is
// written: YAML's typing is not applied, so `http-addr: off` is the text
// "off" (YAML 1.1 would read false) and `gzip-level: 010` is 010, as on the
// command line. A list is joined with commas (the list flags' syntax), a
// null leaves the flag alone; nested mappings are refused, naming the key,
// since no flag takes one.
func parseYAMLConfig(r io.Reader, set func(name, value string) error) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file
		}
		return fmt.Errorf("config: %w", err)
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // a file holding only comments or null
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config: want a mapping of flag names to values, line %d", root.Line)
	}
	values := map[string]*string{}
	var keys []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i].Value
		v, err := configValue(k, root.Content[i+1])
		if err != nil {
			return err
		}
		if _, dup := values[k]; dup {
			return fmt.Errorf("config: %s: given twice (line %d)", k, root.Content[i].Line)
		}
		values[k] = v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := values[k]
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

// resolve follows a YAML alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isRunFlag reports whether name is a flag of `redrive run`.
func isRunFlag(name string) bool {
	var c runConfig
	fs := newFlagSet("run")
	bindRunFlags(fs, &c)
	_, ok := fs.GetFlag(name)
	return ok
}

// configValue is the flag value of a YAML value as written, nil for null.
func configValue(key string, n *yaml.Node) (*string, error) {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil, nil
		}
		return &n.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, e := range n.Content {
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
		s := strings.Join(parts, ",")
		return &s, nil
	}
	return nil, fmt.Errorf("config: %s: a mapping is not a flag value (keys are flag names, values strings, numbers, booleans or lists), line %d", key, n.Line)
}
