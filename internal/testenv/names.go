package testenv

import (
	"strings"
	"testing"
)

// maxNameLen keeps names valid as S3 bucket names (3-63 characters), which
// are stricter than Kafka topic names (249).
const maxNameLen = 63

// UniqueName returns a name for a topic, bucket or consumer group that no
// other test (or run) uses: prefix, the test's name, and random hex, in
// lower case letters, digits and hyphens, at most 63 characters. Tests that
// share one cluster stay independent by naming everything this way.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	suffix := randomHex(4)
	head := sanitizeName(prefix)
	if head == "" {
		head = "t"
	}
	room := maxNameLen - len(head) - len(suffix) - 2
	test := sanitizeName(t.Name())
	if len(test) > room {
		test = strings.TrimRight(test[:max(room, 0)], "-")
	}
	if test == "" {
		return head + "-" + suffix
	}
	return head + "-" + test + "-" + suffix
}

// sanitizeName lowers s and turns each run of other characters than
// letters and digits into one hyphen, trimmed at both ends.
func sanitizeName(s string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen && b.Len() > 0 {
			b.WriteByte('-')
			hyphen = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
