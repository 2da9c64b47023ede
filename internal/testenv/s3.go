package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redrive-io/redrive/internal/wait"
)

// s3StartTimeout bounds how long StartS3 and Start wait for the server to
// accept connections (it takes about 60 ms).
const s3StartTimeout = 30 * time.Second

// S3 is a real S3-compatible server (versitygw with its posix backend)
// started by scripts/s3.sh. It checks request signatures: a client with
// another secret key is refused.
type S3 struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT; use path-style
	// addressing (see Client).
	Endpoint string
	// Region is the region the server signs for, us-east-1.
	Region string
	// AccessKey and SecretKey are the root account's keys, drawn at random.
	AccessKey, SecretKey string
	// Dir holds the server: DIR/data (one folder a bucket), DIR/server.log.
	Dir string

	script string
	port   int
	proc   atomic.Pointer[child] // the running server, or the last one
}

// StartS3 starts a server in a fresh folder on a free port with random keys
// and returns once it accepts connections. ctx bounds the start only: the
// server lives until Close. It retries with a fresh port when the one drawn
// was taken meanwhile.
func StartS3(ctx context.Context) (*S3, error) {
	path, err := script("s3.sh")
	if err != nil {
		return nil, err
	}
	return withFreshPorts(func() (*S3, error) { return startS3Once(ctx, path) })
}

func startS3Once(ctx context.Context, path string) (*S3, error) {
	dir, err := os.MkdirTemp("", "redrive-s3-")
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	s := &S3{
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(port),
		Region:    "us-east-1",
		AccessKey: "redrive" + randomHex(6),
		SecretKey: randomHex(20),
		Dir:       dir,
		script:    path,
		port:      port,
	}
	// The first run writes DIR/s3.env (port and keys, mode 0600); later runs
	// (Start) read it, so the keys appear in a process list only this once.
	if err := s.spawn(ctx, "--port", strconv.Itoa(port), "--access", s.AccessKey, "--secret", s.SecretKey); err != nil {
		if b, rerr := os.ReadFile(s.LogPath()); rerr == nil && strings.Contains(strings.ToLower(string(b)), "address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// spawn starts the server as a child and waits until it accepts
// connections.
func (s *S3) spawn(ctx context.Context, extra ...string) error {
	args := append([]string{"run", "--dir", s.Dir}, extra...)
	c, err := startChild(s.LogPath(), filepath.Join(s.Dir, "pid"), s.script, args...)
	if err != nil {
		return err
	}
	s.proc.Store(c)
	ctx, cancel := context.WithTimeout(ctx, s3StartTimeout)
	defer cancel()
	addr := "127.0.0.1:" + strconv.Itoa(s.port)
	err = wait.Until(ctx, 100*time.Millisecond, "the S3 server at "+addr, func() (bool, error) {
		if c.Exited() {
			return true, nil // no need to wait out ctx for a server that is gone
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err
		}
		return true, conn.Close()
	})
	if c.Exited() {
		return fmt.Errorf("testenv: the S3 server exited: %w\n%s", c.Err(), tail(s.LogPath(), 20))
	}
	return err
}

// LogPath returns the server's log file.
func (s *S3) LogPath() string { return filepath.Join(s.Dir, "server.log") }

// Stop stops the server (SIGTERM, SIGKILL after 5 s) and keeps its data, to
// play an S3 outage; Start ends it.
func (s *S3) Stop() error {
	c := s.proc.Load()
	if c == nil || c.Exited() {
		return errors.New("testenv: the S3 server is not running")
	}
	return c.stop(syscall.SIGTERM, 5*time.Second)
}

// Start starts a stopped server again on the same port with the same keys
// and data, and returns once it accepts connections.
func (s *S3) Start() error {
	c := s.proc.Load()
	if c != nil && !c.Exited() {
		return errors.New("testenv: the S3 server is already running")
	}
	return s.spawn(context.Background())
}

// Close stops the server and removes its folder (kept when
// REDRIVE_TESTENV_KEEP=1).
func (s *S3) Close() error {
	c := s.proc.Load()
	if c != nil {
		_ = c.stop(syscall.SIGKILL, 10*time.Second)
	}
	return removeDir(s.Dir)
}

// Client returns an aws-sdk-go-v2 client for the server: static keys,
// path-style addressing, the server's region. optFns adjust it further
// (e.g. retries, or other keys to check that they are refused).
func (s *S3) Client(optFns ...func(*s3.Options)) *s3.Client {
	opts := s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}
	return s3.New(opts, optFns...)
}

// CreateBucket creates a bucket.
func (s *S3) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("testenv: creating bucket %s: %w", name, err)
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
