package enrich

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Key computes a record's lookup key: an expr-lang expression over the
// record's top-level fields, like the rule, but yielding a scalar. The
// common case is a field name (`user_id`); an expression builds a key from
// several (`region + ":" + user_id`). It is compiled once and safe for
// concurrent use.
type Key struct {
	src     string
	program *vm.Program
	fields  []string
	all     bool
}

// CompileKey compiles src. Fields a record lacks evaluate as nil, and a
// key that evaluates to nil or "" means the record has no key.
func CompileKey(src string) (*Key, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("enrich: key: empty expression")
	}
	p, err := expr.Compile(src, expr.AllowUndefinedVariables())
	if err != nil {
		return nil, fmt.Errorf("enrich: key %q: %w", src, err)
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("enrich: key %q: %w", src, err)
	}
	fields, all := identifiers(tree.Node)
	return &Key{src: src, program: p, fields: fields, all: all}, nil
}

// Fields lists the top-level fields the key reads, as Rule.Fields does.
func (k *Key) Fields() (names []string, all bool) { return k.fields, k.all }

// Of returns the key of a record from its decoded top-level fields. ok is
// false when the key is nil or empty (the record has none); an error means
// the expression failed or yielded something that is not a scalar. Of
// never panics.
func (k *Key) Of(fields map[string]any) (key string, ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			key, ok, err = "", false, fmt.Errorf("enrich: key %q: panic: %v", k.src, p)
		}
	}()
	if fields == nil {
		fields = map[string]any{}
	}
	out, err := expr.Run(k.program, fields)
	if err != nil {
		return "", false, fmt.Errorf("enrich: key %q: %w", k.src, err)
	}
	if out == nil {
		return "", false, nil
	}
	s, err := scalarString(out)
	if err != nil {
		return "", false, fmt.Errorf("enrich: key %q: %w", k.src, err)
	}
	return s, s != "", nil
}

// String returns the key's source expression.
func (k *Key) String() string { return k.src }
