package main

import (
	"math/rand/v2"
	"strconv"
)

// Categories of generated records: the enrichment rule of the workloads is
// `category == "X"`.
const (
	categoryPlain  = "A" // needs no enrichment
	categoryEnrich = "X" // needs enrichment
	enrichRule     = `category == "X"`
)

// recordGen makes JSON records of about a given size. The payload is text
// drawn from a small vocabulary, so that it compresses like real event text
// (about 3:1) rather than like random bytes or like a repeated string. A
// fixed seed makes every run write the same bytes.
type recordGen struct {
	size     int
	payloads []string // rotated; far enough apart that gzip's 32 KiB window sees no repeat
}

var vocabulary = []string{
	"order", "created", "shipped", "customer", "basket", "item", "price", "discount",
	"warehouse", "berlin", "paris", "lisbon", "express", "standard", "refund", "payment",
	"card", "invoice", "session", "mobile", "desktop", "search", "click", "view",
	"checkout", "coupon", "loyalty", "tier", "gold", "silver", "returned", "delayed",
	"tracking", "carrier", "parcel", "address", "street", "postcode", "country", "currency",
	"euro", "dollar", "tax", "vat", "quantity", "sku", "color", "size", "blue", "red",
	"small", "large", "medium", "promo", "campaign", "newsletter", "referral", "partner",
	"api", "batch", "stream", "retry", "status", "ok",
}

// newRecordGen returns a generator of records of about size bytes.
func newRecordGen(size int) *recordGen {
	rng := rand.New(rand.NewPCG(7, 11))
	g := &recordGen{size: size}
	const distinct = 256
	fixed := len(g.value(nil, 0, categoryPlain, "")) // everything but the payload
	for range distinct {
		var b []byte
		for len(b) < size-fixed {
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = append(b, vocabulary[rng.IntN(len(vocabulary))]...)
		}
		g.payloads = append(g.payloads, string(b[:max(0, size-fixed)]))
	}
	return g
}

// Value appends record i of the given category to buf and returns it.
func (g *recordGen) Value(buf []byte, i int, category string) []byte {
	return g.value(buf, i, category, g.payloads[i%len(g.payloads)])
}

// Key is record i's key.
func (g *recordGen) Key(buf []byte, i int) []byte {
	buf = append(buf, "user-"...)
	return strconv.AppendInt(buf, int64(i%100003), 10)
}

func (g *recordGen) value(buf []byte, i int, category, payload string) []byte {
	buf = append(buf, `{"id":"evt-`...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, `","seq":`...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, `,"ts":"2026-11-23T16:00:00Z","category":"`...)
	buf = append(buf, category...)
	buf = append(buf, `","user_id":`...)
	buf = strconv.AppendInt(buf, int64(i%100003), 10)
	buf = append(buf, `,"amount":`...)
	buf = strconv.AppendInt(buf, int64(i%9973), 10)
	buf = append(buf, `,"payload":"`...)
	buf = append(buf, payload...)
	buf = append(buf, `"}`...)
	return buf
}

// categoryOf decides which records need enrichment: a fixed hash of the
// record's index below the fraction, so that every partition (records are
// spread round-robin) gets its share, whatever the partition count.
func categoryOf(i int, fraction float64) string {
	if float64(mix(uint64(i))%1_000_000) < fraction*1_000_000 {
		return categoryEnrich
	}
	return categoryPlain
}

// countEnriched is how many of records 0..n-1 need enrichment.
func countEnriched(n int, fraction float64) int {
	c := 0
	for i := range n {
		if categoryOf(i, fraction) == categoryEnrich {
			c++
		}
	}
	return c
}

// mix is splitmix64's finaliser: a fixed, well-spread hash of x.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
