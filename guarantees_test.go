package redrive_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The guarantees have numbers anyone can look up: every "invariant N" that
// a test name or a comment cites is guarantee N of the README, and every
// guarantee has a test named after it.
func TestInvariantCitationsMatchTheREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start, end := strings.Index(section, "## Guarantees"), strings.Index(section, "## What comes out")
	if start < 0 || end < start {
		t.Fatal("README has no Guarantees section before What comes out")
	}
	section = section[start:end]
	numbered := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^(\d+)\. \*\*`).FindAllStringSubmatch(section, -1) {
		n, _ := strconv.Atoi(m[1])
		numbered[n] = true
	}

	cited := map[int][]string{} // number -> where
	tested := map[int]bool{}
	citation := regexp.MustCompile(`(?i)invariants? ?((?:\d+(?:, | and |_)?)+)`)
	testName := regexp.MustCompile(`func (Test(?:E2E_)?Invariants?((?:\d+_?)+))`)
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range citation.FindAllStringSubmatch(string(src), -1) {
			for _, f := range regexp.MustCompile(`\d+`).FindAllString(m[1], -1) {
				n, _ := strconv.Atoi(f)
				cited[n] = append(cited[n], path)
			}
		}
		for _, m := range testName.FindAllStringSubmatch(string(src), -1) {
			for _, f := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
				n, _ := strconv.Atoi(f)
				tested[n] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n, where := range cited {
		if !numbered[n] {
			t.Errorf("invariant %d is cited (%s) but the README's Guarantees have no item %d", n, where[0], n)
		}
	}
	for n := range numbered {
		if !tested[n] {
			t.Errorf("guarantee %d has no test named TestInvariant%d_… or TestE2E_Invariant%d_…", n, n, n)
		}
	}
	if len(numbered) < 9 {
		t.Errorf("the README numbers %d guarantees, want the 9 invariants", len(numbered))
	}
}
