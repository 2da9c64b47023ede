package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/peterbourgon/ff/v4"
)

// secretFlags hold credentials: --print-config shows whether they are set,
// never their value. Flags naming a file of secrets are paths, shown as is.
var secretFlags = map[string]bool{
	"sasl-password": true,
	"enrich-header": true, // "Authorization: Bearer …"
}

// redacted stands for a secret's value.
const redacted = "<redacted>"

// isSecretFlag reports whether the flag's value is a credential: one of
// secretFlags, or a flag named like one (password, secret, token) that
// does not name a file.
func isSecretFlag(name string) bool {
	if secretFlags[name] {
		return true
	}
	if strings.HasSuffix(name, "-file") {
		return false
	}
	for _, w := range []string{"password", "secret", "token"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// writeEffectiveConfig writes every flag of fs with the value it has after
// flags, environment, config file and defaults were applied, as YAML that
// --config reads back, secrets redacted. derived fills in values computed
// from others when the flag is empty (the DLQ and parking topic names).
func writeEffectiveConfig(w io.Writer, fs ff.Flags, skip map[string]bool, derived map[string]string) error {
	var b strings.Builder
	b.WriteString("# redrive run: the effective configuration (flags > REDRIVE_* variables > --config file > defaults).\n")
	b.WriteString("# Secrets are redacted; files named by *-file flags are not read here.\n")
	err := fs.WalkFlags(func(f ff.Flag) error {
		name, _ := f.GetLongName()
		if skip[name] {
			return nil
		}
		v := f.GetValue()
		if v == "" && derived[name] != "" {
			v = derived[name]
		}
		if v != "" && isSecretFlag(name) {
			v = redacted
		}
		fmt.Fprintf(&b, "%s: %s\n", name, yamlScalar(v))
		return nil
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// plainWord and plainInt match the values YAML reads back as the same
// text without quotes.
var (
	plainWord = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_./-]*$`)
	plainInt  = regexp.MustCompile(`^(0|-?[1-9][0-9]*)$`)
)

// yamlScalar writes v so that YAML reads back the same text: plain when
// that is clearly safe, else double-quoted (a JSON string is a YAML one).
// Words YAML 1.1 reads as booleans or null (yes, off, null) are quoted.
func yamlScalar(v string) string {
	switch strings.ToLower(v) {
	case "null", "yes", "no", "on", "off", "y", "n":
	default:
		if plainInt.MatchString(v) || plainWord.MatchString(v) {
			return v
		}
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<redacted>", not "\u003credacted\u003e"
	enc.Encode(v)            //nolint:errcheck // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
