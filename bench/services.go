package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/redrive-io/redrive/internal/embedded"
	"github.com/redrive-io/redrive/internal/testenv"
)

// services are the broker and the object store every workload runs
// against: the real ones (Apache Kafka and versitygw, through testenv) when
// they start, the embedded stand-ins otherwise. Kind says which, and the
// report prints it.
type services struct {
	Kind    string // "real" or "embedded"
	Detail  string // what exactly ran
	Brokers []string
	S3      s3Endpoint
	closers []func() error
}

// s3Endpoint is how the benchmark and redrive reach the object store.
type s3Endpoint struct {
	URL, Region, AccessKey, SecretKey string
}

// Client is an S3 client for the endpoint: static keys, path-style.
func (e s3Endpoint) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       e.Region,
		BaseEndpoint: aws.String(e.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
	})
}

// Env is what a redrive child needs in its environment to reach the store:
// the AWS default chain reads the keys from there, and IMDS is switched off
// so that the SDK does not probe for an instance role.
func (e s3Endpoint) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + e.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + e.SecretKey,
		"AWS_REGION=" + e.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// startServices starts the real services, or the embedded ones when
// forceEmbedded is set or a real one cannot start (the reason is logged and
// kept in Detail).
func startServices(ctx context.Context, log *slog.Logger, forceEmbedded bool) (*services, error) {
	if !forceEmbedded {
		s, err := startReal(ctx)
		if err == nil {
			return s, nil
		}
		log.Warn("real Kafka/S3 unavailable; falling back to the embedded ones (run `make tools`)", "err", err)
		e, eerr := startEmbedded()
		if eerr != nil {
			return nil, errors.Join(err, eerr)
		}
		e.Detail += fmt.Sprintf(" (real services unavailable: %v)", err)
		return e, nil
	}
	return startEmbedded()
}

func startReal(ctx context.Context) (_ *services, err error) {
	s := &services{Kind: "real"}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	k, err := testenv.StartKafka(ctx, 1)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, k.Close)
	st, err := testenv.StartS3(ctx)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, st.Close)
	s.Brokers = k.Brokers
	s.S3 = s3Endpoint{URL: st.Endpoint, Region: st.Region, AccessKey: st.AccessKey, SecretKey: st.SecretKey}
	s.Detail = "Apache Kafka 4.4.0 (1 KRaft node, testenv) + versitygw S3 (posix backend)"
	return s, nil
}

func startEmbedded() (_ *services, err error) {
	s := &services{Kind: "embedded"}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	k, err := embedded.StartKafka(1)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() error { k.Close(); return nil })
	st, err := embedded.StartS3()
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, st.Close)
	s.Brokers = k.Brokers()
	s.S3 = s3Endpoint{URL: st.URL, Region: "us-east-1", AccessKey: "bench", SecretKey: "bench-secret"}
	s.Detail = "embedded kfake broker + gofakes3 S3, in the benchmark's own process (figures include their CPU on the same 2 cores)"
	return s, nil
}

// CreateBucket creates a bucket in the store.
func (s *services) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.S3.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return nil
}

// Close stops what was started, last first.
func (s *services) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}
