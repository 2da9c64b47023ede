package inspect

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// recordColumns are the columns of ls, tail and a replay plan.
const recordColumns = "TOPIC\tPARTITION:OFFSET\tKEY\tATTEMPT\tERROR\tAGE\tREPLAYED\tVALUE"

// RecordTable writes records as an aligned table: one line per record with
// its place, key, attempt, error class, age (since its first failure),
// whether it was replayed, and a preview of its value.
type RecordTable struct {
	tw     *tabwriter.Writer
	now    time.Time
	header bool
}

// NewRecordTable writes to w; ages are counted up to now.
func NewRecordTable(w io.Writer, now time.Time) *RecordTable {
	return &RecordTable{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), now: now}
}

// Add writes one record's line.
func (t *RecordTable) Add(r Record) {
	if !t.header {
		fmt.Fprintln(t.tw, recordColumns)
		t.header = true
	}
	fmt.Fprintln(t.tw, strings.Join(recordCells(r, t.now), "\t"))
}

// Flush writes what is buffered; call it at the end.
func (t *RecordTable) Flush() error { return t.tw.Flush() }

// Line formats a record for a stream, where lines cannot be aligned after
// the fact (tail): fixed-width columns in the order of RecordTable's.
func Line(r Record, now time.Time) string {
	c := recordCells(r, now)
	return fmt.Sprintf(lineFormat, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
}

// lineFormat gives Line's columns fixed widths.
const lineFormat = "%-8s %-16s %-20s %-7s %-14s %-8s %-8s %s"

// LineHeader is the header of Line's columns.
func LineHeader() string {
	c := strings.Split(recordColumns, "\t")
	return fmt.Sprintf(lineFormat, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
}

func recordCells(r Record, now time.Time) []string {
	attempt := "-"
	if r.EnvelopeErr == nil {
		attempt = strconv.Itoa(r.Envelope.Attempt)
	}
	replayed := "-"
	if r.Replay != nil {
		replayed = "yes"
	}
	return []string{
		string(r.Topic.Role), r.Coord().String(), keyText(r.Key, 20), attempt, r.Class(),
		Age(now.Sub(r.FailedAt())), replayed, Preview(r.Value, 60),
	}
}

// keyText shows a key: "-" when there is none, quoted when it is not
// printable, cut to n runes.
func keyText(k []byte, n int) string {
	if k == nil {
		return "-"
	}
	if !utf8.Valid(k) || strings.IndexFunc(string(k), func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 || len(k) == 0 {
		return cut(strconv.Quote(string(k)), n)
	}
	return cut(string(k), n)
}

// Preview is the start of a value on one line: whitespace runs become one
// space, and a value that is not text is described by its size.
func Preview(v []byte, n int) string {
	if !utf8.Valid(v) {
		return fmt.Sprintf("<%d bytes, not text>", len(v))
	}
	s := strings.Join(strings.FieldsFunc(string(v), func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	return cut(s, n)
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Age formats a duration the way people say it: 45s, 12m, 3h5m, 2d4h.
func Age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// WriteStatsTable writes the figures of each topic: one line per partition
// and one for the total. WAITING (what waits now) comes beside RETAINED
// (what the topic still holds, processed or not); for the DLQ and the input
// topic it is the group's lag, for the parking topic what was not replayed.
func WriteStatsTable(w io.Writer, topics []TopicStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tROLE\tPARTITION\tRETAINED\tWAITING\tOLDEST FAILURE\tNEWEST FAILURE\tREPLAYED\tWAITING BY CLASS\tBY ERROR CLASS\tBY ATTEMPT")
	for _, t := range topics {
		for _, p := range t.Partitions {
			fmt.Fprintln(tw, statsRow(t, p, strconv.Itoa(int(*p.Partition))))
		}
		fmt.Fprintln(tw, statsRow(t, t.Total, "total"))
	}
	return tw.Flush()
}

func statsRow(t TopicStats, p PartitionStats, part string) string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	stamp := func(tp *time.Time) string {
		if tp == nil {
			return ""
		}
		return tp.UTC().Format("2006-01-02T15:04:05Z")
	}
	waiting := strconv.FormatInt(p.Waiting, 10)
	replayed := ""
	if t.Role == RoleParking {
		replayed = strconv.FormatInt(p.Replayed, 10)
	}
	classes, waitingClasses := countsByClass(p.ByClass), ""
	if t.Role == RoleDLQ {
		waitingClasses = countsByClass(p.WaitingByClass)
	}
	attempts := make([]int, 0, len(p.ByAttempt))
	for k := range p.ByAttempt {
		attempts = append(attempts, k)
	}
	sort.Ints(attempts)
	var as []string
	for _, a := range attempts {
		as = append(as, fmt.Sprintf("%d=%d", a, p.ByAttempt[a]))
	}
	return strings.Join([]string{
		t.Topic, string(t.Role), part, strconv.FormatInt(p.Records, 10), waiting,
		dash(stamp(p.OldestFailure)), dash(stamp(p.NewestFailure)), dash(replayed),
		dash(waitingClasses), dash(classes), dash(strings.Join(as, " ")),
	}, "\t")
}

// countsByClass is "a=1 b=2", sorted by class.
func countsByClass(m map[string]int64) string {
	classes := make([]string, 0, len(m))
	for k, v := range m {
		classes = append(classes, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(classes)
	return strings.Join(classes, " ")
}
