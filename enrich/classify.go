package enrich

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"unicode/utf8"
)

// statusClass classifies a non-2xx HTTP status.
func statusClass(code int) Class {
	switch {
	case code == 429 || code == 408:
		return ClassThrottled
	case code == 401 || code == 403 || code == 407:
		return ClassAuth
	case code >= 500 && code <= 599:
		return ClassServer
	case code >= 400 && code <= 499:
		return ClassClient
	default:
		// 1xx and 3xx (a redirect that was not followed) are answers redrive
		// cannot use: no retry will change them.
		return ClassBadResponse
	}
}

// transportError classifies a failure to get an answer at all. The caller's
// ctx is checked first: if it ended, the record did not fail, its caller went
// away, even if the symptom looks like a timeout.
func transportError(ctx context.Context, err error) error {
	err = stripURL(err)
	if ctx.Err() != nil {
		return &Error{Class: ClassCanceled, Err: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Class: ClassTimeout, Err: err}
	}
	return &Error{Class: ClassConnection, Err: err}
}

// snippetLen bounds the piece of an error answer's body kept in the error.
const snippetLen = 200

// snippet reads at most snippetLen bytes of an error answer's body. A read
// error only shortens the snippet: the status already classifies the answer.
func snippet(body io.Reader) string {
	buf := make([]byte, snippetLen)
	n, _ := io.ReadFull(body, buf)
	return clip(buf[:n])
}

// clip returns at most snippetLen bytes of b as valid UTF-8, trimmed.
func clip(b []byte) string {
	if len(b) > snippetLen {
		b = b[:snippetLen]
	}
	for len(b) > 0 && !utf8.Valid(b) && !utf8.FullRune(b[max(0, len(b)-utf8.UTFMax):]) {
		b = b[:len(b)-1]
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
}
