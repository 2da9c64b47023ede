package sinks

import "context"

// Store is where sealed batches go. Implementations: S3 (NewS3Store) and a local
// directory (NewDirStore).
type Store interface {
	// Put writes body under key, replacing any object of that key. It must honour
	// ctx: the Batcher cancels it when an attempt times out or a flush gives up.
	Put(ctx context.Context, key string, body []byte, contentType, contentEncoding string) error
	// Check tells at start-up whether the destination is reachable and exists;
	// its error names the bucket and endpoint, or the directory.
	Check(ctx context.Context) error
	// String names the destination, "s3://bucket" or "file:///dir", for logs.
	String() string
}
