package enrich

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Rule decides which records need enrichment: a boolean expr-lang expression
// over the record's top-level fields, e.g. `category == "X" && amount > 100`.
// It is compiled once and safe for concurrent use.
type Rule struct {
	src     string
	program *vm.Program
	fields  []string // top-level fields the expression reads; nil with all set
	all     bool     // the expression may read any field ($env)
	// machines are expr's virtual machines, reused: Run resets one, and
	// a new one per record was most of the rule's allocations.
	machines sync.Pool
}

// CompileRule compiles src. An empty src is an error: whether "no rule" means
// "enrich nothing" or "enrich everything" is the caller's decision. Fields
// the expression names but a record lacks evaluate as nil. An expression
// that cannot yield a bool is rejected, whether expr's type checker knows it
// (`1 + 2`) or its shape says so (`amount + 1`); errors name the expression and the
// position of the fault.
func CompileRule(src string) (*Rule, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("enrich: rule: empty expression")
	}
	// The environment is declared a map[string]any, which it always is
	// (Match), so that a field is read from the map directly rather than
	// through reflection.
	p, err := expr.Compile(src, expr.Env(map[string]any{}), expr.AsBool(), expr.AllowUndefinedVariables())
	if err != nil {
		return nil, fmt.Errorf("enrich: rule %q: %w", src, err)
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("enrich: rule %q: %w", src, err)
	}
	if why := neverBool(tree.Node); why != "" {
		return nil, fmt.Errorf("enrich: rule %q must yield true or false: %s", src, why)
	}
	fields, all := identifiers(tree.Node)
	r := &Rule{src: src, program: p, fields: fields, all: all}
	r.machines.New = func() any { return new(vm.VM) }
	return r, nil
}

// Fields lists the top-level record fields the rule reads, so that callers
// decode only those (decoding whole records was a third of the pipeline's
// CPU). all is true when the rule may read any field (through $env); names
// of builtins or closure variables may be listed too, which only costs a
// lookup.
func (r *Rule) Fields() (names []string, all bool) { return r.fields, r.all }

// identifiers collects the identifiers of an expression's syntax tree.
func identifiers(root ast.Node) (names []string, all bool) {
	v := &identVisitor{seen: map[string]bool{}}
	ast.Walk(&root, v)
	return v.names, v.all
}

type identVisitor struct {
	seen  map[string]bool
	names []string
	all   bool
}

func (v *identVisitor) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if id.Value == "$env" {
		v.all = true
		return
	}
	if !v.seen[id.Value] {
		v.seen[id.Value] = true
		v.names = append(v.names, id.Value)
	}
}

// Match evaluates the rule over a record's decoded top-level fields. Missing
// fields are nil: `category == "X"` is then false, but `amount > 100` is an
// error (nil > int); write `(amount ?? 0) > 100` or `amount != nil && amount >
// 100` when a field may be absent. An error means this record could not be
// evaluated; Match never panics.
func (r *Rule) Match(fields map[string]any) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, fmt.Errorf("enrich: rule %q: panic: %v", r.src, p)
		}
	}()
	if fields == nil {
		fields = map[string]any{}
	}
	machine := r.machines.Get().(*vm.VM)
	defer r.machines.Put(machine)
	out, err := machine.Run(r.program, fields)
	if err != nil {
		return false, fmt.Errorf("enrich: rule %q: %w", r.src, err)
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("enrich: rule %q: result is %T, not bool", r.src, out)
	}
	return b, nil
}

// String returns the rule's source expression.
func (r *Rule) String() string { return r.src }
