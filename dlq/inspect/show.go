package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// WriteShow writes one record whole: where it is, its envelope decoded into
// readable fields, its replay, every header as read, and its value
// (pretty-printed when it is JSON).
func WriteShow(w io.Writer, r Record, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		d := now.Sub(t)
		rel := Age(d) + " ago"
		if d < 0 {
			rel = "in " + Age(-d)
		}
		return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339Nano), rel)
	}
	row("record", fmt.Sprintf("%s %s (%s topic)", r.Topic.Name, r.Coord(), r.Topic.Role))
	row("written", when(r.Timestamp))
	row("key", keyText(r.Key, 200))
	switch {
	case r.Marker != nil:
		row("replay marker", fmt.Sprintf("of %s, copy written to %s", r.Marker.Of, r.Marker.To))
		row("replayed", when(r.Marker.At))
	case r.EnvelopeErr != nil:
		row("envelope", "cannot be decoded: "+r.EnvelopeErr.Error())
	default:
		e := r.Envelope
		row("attempt", strconv.Itoa(e.Attempt))
		row("error class", dashIfEmpty(e.ErrorClass))
		row("error", dashIfEmpty(e.Error))
		row("first failure", when(e.FirstFailure))
		row("not before", when(e.NotBefore))
		row("origin", e.Origin.String())
		if !e.OriginTime.IsZero() {
			row("origin time", when(e.OriginTime)+": dates the record's S3 folder (--partition-time record)")
		}
		if !e.Replayed.IsZero() {
			row("earlier replay", when(e.Replayed)+": this record was replayed once and failed again")
		}
		if e.Reduced != nil {
			row("truncated", fmt.Sprintf("yes: only the first %d of %d bytes are kept here (SHA-256 of the whole value %s); the whole record is at its origin %s while that topic retains it",
				len(r.Value), e.Reduced.Size, e.Reduced.SHA256, e.Origin))
		}
	}
	if r.Marker == nil && r.Topic.Role == RoleParking {
		if r.Replay != nil {
			row("replayed", fmt.Sprintf("%s to %s (marker %s)", when(r.Replay.At), r.Replay.To, r.Replay.Self))
		} else {
			row("replayed", "no")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "headers:")
	for _, h := range r.Headers {
		fmt.Fprintf(w, "  %s: %s\n", h.Key, headerText(h.Value))
	}
	fmt.Fprintf(w, "value (%d bytes):\n", len(r.Value))
	var pretty bytes.Buffer
	switch {
	case r.Value == nil:
		fmt.Fprintln(w, "  (null)")
	case json.Indent(&pretty, r.Value, "  ", "  ") == nil:
		fmt.Fprintf(w, "  %s\n", pretty.Bytes())
	case utf8.Valid(r.Value):
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(string(r.Value), "\n", "\n  "))
	default:
		fmt.Fprintf(w, "  %q\n", r.Value)
	}
	return nil
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// headerText shows a header value as text when it is, quoted otherwise.
func headerText(v []byte) string {
	if utf8.Valid(v) && !bytes.ContainsAny(v, "\n\r\x00") {
		return string(v)
	}
	return strconv.Quote(string(v))
}
