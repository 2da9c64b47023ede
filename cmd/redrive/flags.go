package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v4"
)

// envPrefix: --input-topic is also REDRIVE_INPUT_TOPIC.
const envPrefix = "REDRIVE"

// envName is the environment variable of a flag, as ff derives it.
func envName(flag string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagSet registers flags with their env var named in the help text.
type flagSet struct{ *ff.FlagSet }

func newFlagSet(name string) flagSet { return flagSet{ff.NewFlagSet(name)} }

// usage appends the flag's env var to its help text. A default described
// in words, "(default: system roots)", is kept last, where --help shows the
// defaults it prints itself, so that every line reads "what (env) (default)"
// and the README's table can take it from there.
func (f flagSet) usage(name, usage string) string {
	text, def := splitDescribedDefault(usage)
	if def != "" {
		return fmt.Sprintf("%s (env %s) (default: %s)", text, envName(name), def)
	}
	return fmt.Sprintf("%s (env %s)", usage, envName(name))
}

// splitDescribedDefault splits "what it does (default: words)" into its
// two parts; def is "" when usage describes no default.
func splitDescribedDefault(usage string) (text, def string) {
	i := strings.LastIndex(usage, " (default: ")
	if i < 0 || !strings.HasSuffix(usage, ")") {
		return usage, ""
	}
	return usage[:i], strings.TrimSuffix(usage[i+len(" (default: "):], ")")
}

func (f flagSet) str(p *string, name, def, usage string) {
	f.StringVar(p, 0, name, def, f.usage(name, usage))
}

func (f flagSet) boolean(p *bool, name, usage string) {
	f.BoolVar(p, 0, name, f.usage(name, usage))
}

func (f flagSet) duration(p *time.Duration, name string, def time.Duration, usage string) {
	f.DurationVar(p, 0, name, def, f.usage(name, usage))
}

func (f flagSet) integer(p *int, name string, def int, usage string) {
	f.IntVar(p, 0, name, def, f.usage(name, usage))
}

func (f flagSet) value(v interface {
	String() string
	Set(string) error
}, name, usage string) {
	f.Value(0, name, v, f.usage(name, usage))
}

// listValue is a comma-separated list, so that one env var can hold it.
type listValue struct{ p *[]string }

func (l listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l listValue) Set(s string) error {
	*l.p = (*l.p)[:0]
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l.p = append(*l.p, part)
		}
	}
	return nil
}

// byteSize accepts 1048576, 512KiB, 8MiB, 1GiB (and KB/MB/GB as powers of 1000).
type byteSize struct{ p *int }

func (b byteSize) String() string {
	if b.p == nil {
		return "0"
	}
	n := *b.p
	for _, u := range []struct {
		suffix string
		size   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.Itoa(n/u.size) + u.suffix
		}
	}
	return strconv.Itoa(n)
}

func (b byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		size   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.size
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a size like 1048576, 512KiB or 8MiB", s)
	}
	*b.p = n * mult
	return nil
}

// intValue binds an integer of any width (int32 partition counts, int16
// replication factors, uint32 breaker thresholds), refusing what does not
// fit its type.
type intValue[T integer] struct{ p *T }

// integer is what intValue binds: every width ParseInt can hold.
type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32
}

func (v intValue[T]) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(int64(*v.p), 10)
}

func (v intValue[T]) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if int64(T(n)) != n {
		return fmt.Errorf("%d is out of range", n)
	}
	*v.p = T(n)
	return nil
}

// readSecretFile reads a secret from a mounted file, trimming the trailing
// newline that editors and `kubectl create secret --from-file` leave.
func readSecretFile(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
