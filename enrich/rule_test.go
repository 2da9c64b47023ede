package enrich

import (
	"strings"
	"sync"
	"testing"
)

// TestCompileRule proves that bad rules are refused at start-up with the
// expression and the position of the fault in the error, that an expression
// known not to be boolean is refused, and that an empty rule is an error.
func TestCompileRule(t *testing.T) {
	cases := []struct {
		src, wantErr string
	}{
		{`category == "X"`, ""},
		{`amount > 100 && country in ["FR", "DE"]`, ""},
		{`user?.tier == "gold"`, ""},
		{``, "empty"},
		{`   `, "empty"},
		{`category ==`, "(1:11)"},
		{`category == "X" &&& y`, "category == \"X\" &&& y"},
		{`1 + 2`, "expected bool"},
		{`"a" + "b"`, "expected bool"},
		{`"a" + 1 == "b"`, "(1:5)"},
		// Over undeclared fields expr's checker sees interface{} and lets
		// these through; every record was then parked as rule_error.
		{`amount + 1`, "must yield true or false"},
		{`-amount`, "must yield true or false"},
		{`category + "x"`, "must yield true or false"},
		{`ok ? amount * 2 : false`, "must yield true or false"},
		{`flag`, ""},
		{`flag ?? false`, ""},
		{`amount ?? 0`, "must yield true or false"},
		{`(amount ?? 0) > 100`, ""},
		{`not flag`, ""},
		{`amount + 1 > 2`, ""},
	}
	for _, tc := range cases {
		r, err := CompileRule(tc.src)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.src, err)
			} else if r.String() != tc.src {
				t.Errorf("String() = %q, want %q", r.String(), tc.src)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want one containing %q", tc.src, err, tc.wantErr)
		}
	}
}

// TestRuleMatch proves matching over decoded JSON fields (numbers are
// float64), that missing fields are nil and never panic, and that a record
// which cannot be evaluated is an error rather than a silent answer.
func TestRuleMatch(t *testing.T) {
	record := map[string]any{"category": "X", "amount": 150.0, "user": map[string]any{"tier": "gold"}, "tags": []any{"a", "b"}}
	cases := []struct {
		src     string
		fields  map[string]any
		want    bool
		wantErr bool
	}{
		{`category == "X"`, record, true, false},
		{`category == "Y"`, record, false, false},
		{`category == "X"`, nil, false, false},
		{`category == "X"`, map[string]any{}, false, false},
		{`amount > 100`, record, true, false},
		{`amount > 100`, map[string]any{"amount": 99}, false, false},
		{`amount > 100`, map[string]any{}, false, true}, // nil > 100 cannot be evaluated
		{`(amount ?? 0) > 100`, map[string]any{}, false, false},
		{`amount != nil && amount > 100`, map[string]any{}, false, false},
		{`user.tier == "gold"`, record, true, false},
		{`user?.tier == "gold"`, map[string]any{}, false, false},
		{`user.tier == "gold"`, map[string]any{}, false, true},
		{`"a" in tags`, record, true, false},
		{`missing`, map[string]any{}, false, false},
		{`amount`, record, false, true}, // not a bool at run time
		{`amount > 100`, map[string]any{"amount": "lots"}, false, true},
	}
	for _, tc := range cases {
		r, err := CompileRule(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		got, err := r.Match(tc.fields)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%q over %v: got %v, %v; want %v, error %v", tc.src, tc.fields, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), tc.src) {
			t.Errorf("%q: error %q does not name the rule", tc.src, err)
		}
	}
}

// TestRuleConcurrent proves a Rule may be shared by goroutines (run with -race).
func TestRuleConcurrent(t *testing.T) {
	r, err := CompileRule(`n % 2 == 0`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				n := i*1000 + j
				got, err := r.Match(map[string]any{"n": n})
				if err != nil || got != (n%2 == 0) {
					t.Errorf("n=%d: %v %v", n, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRuleFieldsAreTheIdentifiersItReads(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string
		all  bool
	}{
		{`category == "X"`, []string{"category"}, false},
		{`category == "X" && (amount ?? 0) > 100`, []string{"category", "amount"}, false},
		{`user.tier in ["gold", "platinum"]`, []string{"user"}, false},
		{`len(tags) > 2 && category == "X"`, []string{"tags", "category"}, false},
		{`$env["odd key"] == 1`, nil, true},
		{`true`, nil, false},
	} {
		r, err := CompileRule(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		names, all := r.Fields()
		if all != tc.all || strings.Join(names, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: Fields() = %v, %v; want %v, %v", tc.src, names, all, tc.want, tc.all)
		}
	}
}
