// Package schema owns the columns of redrive's Parquet output: the schema
// file a user writes (--parquet-schema), the Parquet schema built from it,
// and the mapping of one output record to one row, which refuses a value
// that does not fit its column rather than writing a null in its place.
//
// # The schema file
//
// A YAML (or JSON) document listing the columns, in the order they take in
// the Parquet file and in a table over it:
//
//	columns:
//	  - {name: order_id, type: string, required: true}
//	  - {name: amount,   type: double}
//	  - {name: qty,      type: int64}
//	  - {name: paid,     type: boolean}
//	  - {name: ts,       type: timestamp}
//	  - {name: items,    type: json}
//
// Each column is read from the record's top-level field of the same name.
// The types are:
//
//   - string: a JSON string.
//   - int64: a JSON number without a fractional part, within int64.
//   - double: a JSON number.
//   - boolean: true or false.
//   - timestamp: RFC 3339 text, or epoch seconds or milliseconds (a number or
//     a string holding one), stored as microseconds since the epoch, UTC.
//   - json: any JSON value, kept as its JSON text in a string column of
//     Parquet's JSON logical type (nested objects and arrays go here).
//
// A field that is absent or null gives a null, unless the column is required;
// a value of another type (a string where the schema says int64, a fraction
// for an int64) makes the record not fit, and the pipeline parks it with the
// cause. Fields the schema does not name are not written.
//
// The enrichment answer is the column named like --enrich-field: typed as
// the schema says when the file lists it, a json column after the listed
// ones otherwise. The _redrive column is added last, a group with the same
// fields as the JSON Lines contract (Journey); the file may not name it.
package schema
