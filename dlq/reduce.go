package dlq

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// ClassOversize is the error class of a record too large for a topic: one
// over --max-record-bytes, or one that no DLQ or parking write could take
// whole and that was parked reduced (Envelope.Reduced set).
const ClassOversize = "oversize"

// Reduce returns the envelope and value of a record that can never be
// written whole: the class oversize with cause, the original's size and
// SHA-256, and only the first keep bytes of the value. Key and origin stay,
// so an operator can find the whole record at its origin coordinates.
func Reduce(env Envelope, value []byte, keep int, cause string) (Envelope, []byte) {
	if env.Reduced == nil {
		sum := sha256.Sum256(value)
		env.Reduced = &Reduced{Size: len(value), SHA256: hex.EncodeToString(sum[:])}
	}
	env.ErrorClass = ClassOversize
	env.Error = cause
	env.NotBefore = time.Time{}
	keep = max(0, min(keep, len(value)))
	return env, value[:keep:keep]
}
