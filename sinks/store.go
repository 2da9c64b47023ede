package sinks

import (
	"context"
	"errors"
)

// Store is where sealed batches go. Implementations: S3 (NewS3Store) and a local
// directory (NewDirStore).
type Store interface {
	// Put writes body under key, replacing any object of that key. It must honour
	// ctx: the Batcher cancels it when an attempt times out or a flush gives up.
	// It must not keep body after it returns: the Batcher reuses the buffer.
	Put(ctx context.Context, key string, body []byte, contentType, contentEncoding string) error
	// Check tells at start-up whether the destination is reachable and exists;
	// its error names the bucket and endpoint, or the directory.
	Check(ctx context.Context) error
	// String names the destination, "s3://bucket" or "file:///dir", for logs.
	String() string
}

// Permanent reports whether a store error is one that retrying cannot fix:
// S3 answered with a client error (the bucket is missing, the credentials
// or the permissions are refused), other than 408 and 429. No answer at all,
// a timeout or a server error may pass.
func Permanent(err error) bool {
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &status) {
		return false
	}
	code := status.HTTPStatusCode()
	return code >= 400 && code < 500 && code != 408 && code != 429
}
