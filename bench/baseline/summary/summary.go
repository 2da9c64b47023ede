// Package summary is the JSON summary the baseline consumer (bench/baseline)
// prints on its last line, in one place for the binary that writes it and
// the benchmark that reads it.
package summary

import "time"

// Summary is what the baseline counted, printed as one JSON line on exit.
type Summary struct {
	Records     int64     `json:"records"`
	Calls       int64     `json:"calls"`
	CallErrors  int64     `json:"call_errors"`
	FirstRecord time.Time `json:"first_record"`
	Done        time.Time `json:"done"`
	Invalid     int64     `json:"invalid,omitempty"`    // -floor: values that are not JSON objects
	Compressed  int64     `json:"compressed,omitempty"` // -floor: compressed bytes produced
}
