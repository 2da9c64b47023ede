package testenv

import (
	"regexp"
	"strings"
	"testing"
)

// validBucket is S3's rule for bucket names (which also makes valid Kafka
// topic and group names): 3-63 lower-case letters, digits, hyphens, dots,
// starting and ending with a letter or digit.
var validBucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// TestUniqueName_ValidAndDistinct proves that UniqueName gives names valid
// as buckets and topics whatever the prefix and test name, and never the
// same name twice.
func TestUniqueName_ValidAndDistinct(t *testing.T) {
	for _, tc := range []struct{ name, prefix string }{
		{"plain", "orders"},
		{"Upper_and spaces/slashes", "My_Topic"},
		{"empty_prefix", ""},
		{"symbols_only_prefix", "__--"},
		{"long_" + strings.Repeat("x", 120), strings.Repeat("p", 40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := UniqueName(t, tc.prefix), UniqueName(t, tc.prefix)
			for _, n := range []string{a, b} {
				if !validBucket.MatchString(n) || strings.Contains(n, "--") {
					t.Errorf("%q is not a valid bucket name", n)
				}
			}
			if a == b {
				t.Errorf("two calls gave %q", a)
			}
		})
	}
}

// TestSanitizeName covers the character mapping UniqueName relies on.
func TestSanitizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "abc"},
		{"TestX/sub_case", "testx-sub-case"},
		{"--a--b--", "a-b"},
		{"Ünïcode", "n-code"},
		{"", ""},
		{"///", ""},
	} {
		if got := sanitizeName(tc.in); got != tc.want {
			t.Errorf("sanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
