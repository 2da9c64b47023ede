package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// duckdbScript runs the SQL on stdin in one DuckDB session (several
// statements, such as the output of redrive table), then each query given
// as an argument, printing each query's rows as one JSON array of rows of
// strings.
const duckdbScript = `
import duckdb, json, sys
con = duckdb.connect()
con.execute(sys.stdin.read())
for q in sys.argv[1:]:
    print(json.dumps([[None if v is None else str(v) for v in row] for row in con.execute(q).fetchall()]))
`

// DuckDB is a real query engine: DuckDB's Python package, which make tools
// installs into .tools/python (pip install --target).
type DuckDB struct {
	pythonPath string
}

// NeedDuckDB returns DuckDB, or reports it unavailable (a failure under
// CI=true) and skips the test.
func NeedDuckDB(t testing.TB) *DuckDB {
	t.Helper()
	root, err := repoRoot()
	if err == nil {
		d := &DuckDB{pythonPath: filepath.Join(root, ".tools", "python")}
		if _, err = d.run("SELECT 1;"); err == nil {
			return d
		}
	}
	Unavailable(t, "DuckDB", err)
	t.Skip("DuckDB is not installed (make tools installs it)")
	return nil
}

// Query runs setup (any number of statements) and then each query, in one
// session, and returns each query's rows with every value as a string (nil
// for NULL).
func (d *DuckDB) Query(t testing.TB, setup string, queries ...string) [][][]*string {
	t.Helper()
	out, err := d.run(setup, queries...)
	if err != nil {
		t.Fatalf("duckdb: %v", err)
	}
	return out
}

func (d *DuckDB) run(setup string, queries ...string) ([][][]*string, error) {
	cmd := exec.Command("python3", append([]string{"-c", duckdbScript}, queries...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+d.pythonPath)
	cmd.Stdin = bytes.NewReader([]byte(setup))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("python3 with %s: %v: %s", d.pythonPath, err, stderr.Bytes())
	}
	var out [][][]*string
	dec := json.NewDecoder(&stdout)
	for range queries {
		var rows [][]*string
		if err := dec.Decode(&rows); err != nil {
			return nil, fmt.Errorf("reading DuckDB's answer: %w (stderr: %s)", err, stderr.Bytes())
		}
		out = append(out, rows)
	}
	return out, nil
}
