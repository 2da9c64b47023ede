package pipeline

import (
	"encoding/json"
	"slices"
)

// The one-shot forms of the routing pass and of the output line, which
// the tests and benchmarks call on their own; the processor makes one
// scan per record (Processor.scan) and builds its line in parts.

// validateObject checks that value is one JSON object, in one pass
// (scanObject), as routing does when the rule names no fields.
func validateObject(value []byte) error { return scanObject(value, nil, nil) }

// pickRaw is scanObject picking one field without decoding it: it returns
// the raw JSON of the top-level field name (the last one when the key
// repeats), or nil when there is none. It allocates nothing.
func pickRaw(value []byte, name string) ([]byte, error) {
	var raw [1][]byte
	if err := pickRaws(value, []string{name}, raw[:]); err != nil {
		return nil, err
	}
	return raw[0], nil
}

// outputLine returns the record as one JSON object with the enrichment (if
// any) under field and the journey under MetaField, in a new buffer; it
// searches the value for its shape (lineParts).
func outputLine(value []byte, field string, enrichment json.RawMessage, meta Meta) ([]byte, error) {
	head, tail, err := lineParts(nil, value, field, enrichment, meta, 0)
	if err != nil {
		return nil, err
	}
	return append(slices.Clip(head), tail...), nil
}
