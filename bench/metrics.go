package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// promSample is one series of a Prometheus text exposition.
type promSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// promSamples is one scrape of /metrics.
type promSamples []promSample

// parseProm reads the Prometheus text format: comments are skipped, and
// each remaining line is name{labels} value [timestamp]. Label values in
// redrive's metrics hold no escaped quotes or commas, so a simple split is
// enough; a line it cannot read is skipped rather than failing the scrape.
func parseProm(text string) promSamples {
	var out promSamples
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s := promSample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			s.Name = line[:i]
			for pair := range strings.SplitSeq(line[i+1:j], ",") {
				k, v, ok := strings.Cut(pair, "=")
				if ok {
					s.Labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
			rest = strings.TrimSpace(line[j+1:])
		} else {
			name, r, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			s.Name, rest = name, r
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		s.Value = v
		out = append(out, s)
	}
	return out
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
	return parseProm(string(body)), nil
}
