package enrich

import (
	"fmt"

	"github.com/expr-lang/expr/ast"
)

// nonBoolOperators are the operators whose result is never a bool, whatever
// their operands. expr's type checker cannot tell `amount + 1` from a rule
// over a boolean field when fields are undeclared (both are "interface{}"),
// so CompileRule looks at the expression's shape as well.
var nonBoolOperators = map[string]bool{
	"+": true, "-": true, "*": true, "/": true, "%": true, "**": true, "^": true, "..": true,
}

// neverBool reports why node can never evaluate to a bool, or "" when it may.
// It is conservative: a node it cannot judge (a field, a call, `??`) may be
// a bool, and then the record-time check in Match remains the guard.
func neverBool(node ast.Node) string {
	switch n := node.(type) {
	case *ast.BinaryNode:
		if nonBoolOperators[n.Operator] {
			return fmt.Sprintf("the operator %q yields a number or string, not true/false", n.Operator)
		}
		if n.Operator == "??" {
			// A missing field yields the right side: `amount ?? 0`.
			return neverBool(n.Right)
		}
	case *ast.UnaryNode:
		if n.Operator == "-" || n.Operator == "+" {
			return fmt.Sprintf("the operator %q yields a number, not true/false", n.Operator)
		}
	case *ast.ConditionalNode:
		if why := neverBool(n.Exp1); why != "" {
			return why
		}
		return neverBool(n.Exp2)
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.ArrayNode, *ast.MapNode, *ast.SliceNode:
		return "it is a literal value, not true/false"
	}
	return ""
}
