package redrive_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/redrive-io/redrive/pipeline"
)

// The README's table of _redrive fields is the public contract of the
// output: it names every field pipeline.Meta writes, and no other.
func TestREADMERedriveFieldsMatchMeta(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	row := regexp.MustCompile("^\\| (`[a-z_]+`(?:, `[a-z_]+`)*) \\|")
	in := false
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `_redrive` field |") {
			in = true
			continue
		}
		if in && !strings.HasPrefix(line, "|") {
			break
		}
		if m := row.FindStringSubmatch(line); in && m != nil {
			for _, f := range strings.Split(m[1], ", ") {
				documented = append(documented, strings.Trim(f, "`"))
			}
		}
	}
	var written []string
	meta := reflect.TypeFor[pipeline.Meta]()
	for i := range meta.NumField() {
		name, _, _ := strings.Cut(meta.Field(i).Tag.Get("json"), ",")
		written = append(written, name)
	}
	slices.Sort(documented)
	slices.Sort(written)
	if !slices.Equal(documented, written) {
		t.Fatalf("the README's _redrive table names %v; pipeline.Meta writes %v", documented, written)
	}
}
