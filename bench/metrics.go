package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// promSample is one series of a Prometheus text exposition.
type promSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// promSamples is one scrape of /metrics.
type promSamples []promSample

// parseProm reads a Prometheus text exposition with Prometheus's own
// parser and flattens it to series as the text format names them
// (histograms as NAME_bucket{le}, NAME_sum and NAME_count).
func parseProm(text string) (promSamples, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parsing metrics: %w", err)
	}
	var out promSamples
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			add := func(suffix string, v float64, extra ...string) {
				l := labels
				if len(extra) == 2 {
					l = maps.Clone(labels)
					l[extra[0]] = extra[1]
				}
				out = append(out, promSample{Name: name + suffix, Labels: l, Value: v})
			}
			switch {
			case m.Counter != nil:
				add("", m.GetCounter().GetValue())
			case m.Gauge != nil:
				add("", m.GetGauge().GetValue())
			case m.Untyped != nil:
				add("", m.GetUntyped().GetValue())
			case m.Histogram != nil:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add("_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				add("_sum", h.GetSampleSum())
				add("_count", float64(h.GetSampleCount()))
			case m.Summary != nil:
				add("_sum", m.GetSummary().GetSampleSum())
				add("_count", float64(m.GetSummary().GetSampleCount()))
			}
		}
	}
	return out, nil
}

// Sum adds the series of name whose labels include every pair of match.
func (ps promSamples) Sum(name string, match map[string]string) float64 {
	var sum float64
	for _, s := range ps {
		if s.Name == name && labelsMatch(s.Labels, match) {
			sum += s.Value
		}
	}
	return sum
}

// Max is the largest value among the series of name (0 when there are none).
func (ps promSamples) Max(name string) float64 {
	m := math.Inf(-1)
	for _, s := range ps {
		if s.Name == name && s.Value > m {
			m = s.Value
		}
	}
	if math.IsInf(m, -1) {
		return 0
	}
	return m
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// scrape fetches and parses http://addr/metrics; c should have a short
// timeout, so that a scrape that hangs cannot stall a poll loop.
func scrape(ctx context.Context, c *http.Client, addr string) (promSamples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", addr, resp.Status)
	}
	return parseProm(string(body))
}
