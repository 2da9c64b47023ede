package embedded

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an in-memory S3 API served over loopback HTTP. It checks no
// credentials: use it for the demo and unit tests, and a real server
// (versitygw, see internal/testenv) where credentials matter.
type S3 struct {
	URL string // http://127.0.0.1:PORT
	srv *http.Server
}

// StartS3 serves an empty store with the given buckets.
func StartS3(buckets ...string) (*S3, error) {
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			return nil, fmt.Errorf("creating bucket %s: %w", b, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           gofakes3.New(backend, gofakes3.WithTimeSkewLimit(0)).Server(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close

	return &S3{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

// Close stops the server; its data is gone.
func (s *S3) Close() error { return s.srv.Close() }
