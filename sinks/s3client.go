package sinks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3ClientConfig says how to reach S3 or an S3-compatible store.
type S3ClientConfig struct {
	// Endpoint is the base URL of an S3-compatible store (MinIO, gofakes3, ...).
	// Default "" (AWS's own endpoints).
	Endpoint string
	// Region is the signing region. Default "us-east-1".
	Region string
	// PathStyle addresses buckets as ENDPOINT/BUCKET instead of BUCKET.ENDPOINT.
	// Default false; most S3-compatible stores need true.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials, both or neither.
	// Default "" (the SDK's default chain: environment, shared files, IRSA,
	// instance role).
	AccessKeyID     string
	SecretAccessKey string
	// HTTPClient replaces the SDK's HTTP client and is used as given (AWS_CA_BUNDLE
	// is not applied to it). Default nil (the SDK's own).
	HTTPClient *http.Client
}

// SetDefaults fills every zero field with its documented default.
func (c *S3ClientConfig) SetDefaults() {
	c.Region = cmp.Or(c.Region, "us-east-1")
}

// Validate reports invalid fields; each error names its field.
func (c S3ClientConfig) Validate() error {
	var errs []error
	if c.Region == "" {
		errs = append(errs, errors.New("sinks: S3 Region must not be empty"))
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		errs = append(errs, errors.New("sinks: S3 AccessKeyID and SecretAccessKey must be given together"))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("sinks: S3 Endpoint %q must be an absolute URL like http://127.0.0.1:9000", c.Endpoint))
		}
	}
	return errors.Join(errs...)
}

// NewS3Client builds an S3 client from the SDK's default configuration chain,
// overridden by cfg (after SetDefaults and Validate).
func NewS3Client(ctx context.Context, cfg S3ClientConfig) (*s3.Client, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.Endpoint != "" {
		opts = append(opts, plainUploads()...)
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sinks: load AWS configuration: %w", err)
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Set here rather than through config.WithHTTPClient: LoadDefaultConfig
		// refuses a plain *http.Client when AWS_CA_BUNDLE is set, because it wants
		// to install the bundle into the client's transport.
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	}), nil
}

// plainUploads are the load options for an S3-compatible endpoint. Since
// v1.73 the SDK's S3 client sends every upload over HTTPS as aws-chunked
// with a trailing CRC32, and checks the checksums of what it reads; many
// S3-compatible stores (older MinIO and Ceph, GCS's XML API, R2 and B2
// for a while) refuse the first (XAmzContentSHA256Mismatch) or send no
// checksum for the second. The SDK's settings in the environment
// (AWS_REQUEST_CHECKSUM_CALCULATION, AWS_RESPONSE_CHECKSUM_VALIDATION) still
// win over these.
func plainUploads() []func(*config.LoadOptions) error {
	env, err := config.NewEnvConfig()
	if err != nil {
		return nil // LoadDefaultConfig reports the same error
	}
	var opts []func(*config.LoadOptions) error
	if env.RequestChecksumCalculation == aws.RequestChecksumCalculationUnset {
		opts = append(opts, config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired))
	}
	if env.ResponseChecksumValidation == aws.ResponseChecksumValidationUnset {
		opts = append(opts, config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	return opts
}

// String formats the configuration with the secret key redacted, so that a
// config printed with %v or %+v never shows it.
func (c S3ClientConfig) String() string {
	type plain S3ClientConfig // without this method, so no recursion
	p := plain(c)
	if p.SecretAccessKey != "" {
		p.SecretAccessKey = "<redacted>"
	}
	return fmt.Sprintf("%+v", p)
}

// LogValue keeps the secret key out of structured logs.
func (c S3ClientConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }
