package enrich

import (
	"strings"
	"testing"
	"time"
)

// TestConfigDefaults proves that SetDefaults applies the documented defaults.
func TestConfigDefaults(t *testing.T) {
	c := Config{URL: "http://api/"}
	c.SetDefaults()
	want := Config{URL: "http://api/", Method: "POST", Timeout: 2 * time.Second, Concurrency: 32, Retries: 2,
		RetryInitial: 100 * time.Millisecond, RetryMax: time.Second, BreakerFailures: 5,
		BreakerOpenFor: 10 * time.Second, BreakerHalfOpen: 1, MaxResponseBytes: 1 << 20}
	if c.Method != want.Method || c.Timeout != want.Timeout || c.Concurrency != want.Concurrency ||
		c.Retries != want.Retries || c.RetryInitial != want.RetryInitial || c.RetryMax != want.RetryMax ||
		c.BreakerFailures != want.BreakerFailures || c.BreakerOpenFor != want.BreakerOpenFor ||
		c.BreakerHalfOpen != want.BreakerHalfOpen || c.MaxResponseBytes != want.MaxResponseBytes {
		t.Errorf("defaults\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	n := Config{Retries: NoRetries}
	n.SetDefaults()
	if n.retries() != 0 {
		t.Errorf("NoRetries gives %d retries, want 0", n.retries())
	}
}

// TestConfigValidate proves that each invalid field is reported by name.
func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"no URL", func(c *Config) { c.URL = "" }, "enrich-url:"},
		{"bad URL", func(c *Config) { c.URL = "api/{x" }, "enrich-url:"},
		{"method", func(c *Config) { c.Method = "TRACE" }, "enrich-method:"},
		{"header", func(c *Config) { c.Headers = map[string]string{"Bad Name": "x"} }, "enrich-header:"},
		{"timeout", func(c *Config) { c.Timeout = -1 }, "enrich-timeout:"},
		{"concurrency", func(c *Config) { c.Concurrency = -3 }, "enrich-concurrency:"},
		{"retries", func(c *Config) { c.Retries = -2 }, "enrich-retries:"},
		{"retry initial", func(c *Config) { c.RetryInitial = -1 }, "enrich.Config.RetryInitial:"},
		{"retry max below initial", func(c *Config) { c.RetryMax = time.Millisecond }, "enrich.Config.RetryMax:"},
		{"open for", func(c *Config) { c.BreakerOpenFor = -1 }, "breaker-open-for:"},
		{"max response", func(c *Config) { c.MaxResponseBytes = -1 }, "enrich.Config.MaxResponseBytes:"},
	}
	for _, tc := range cases {
		c := Config{URL: "http://api/"}
		c.SetDefaults()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.field)
		}
		if _, nerr := New(c); nerr == nil {
			t.Errorf("%s: New accepted an invalid config", tc.name)
		}
	}
}
