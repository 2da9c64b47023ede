package mockapi

import (
	"encoding/json"
	"hash/fnv"
)

// Answer is the mock API's successful answer to a request with this path and
// body: {"score": <0..999 from an FNV hash of path and body>, "len": <body
// length>}. It is exported so that a test can check that an enrichment really
// came from the API.
func Answer(path string, body []byte) json.RawMessage {
	h := fnv.New64a()
	_, _ = h.Write([]byte(path))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(body)
	out, _ := json.Marshal(struct {
		Score uint64 `json:"score"`
		Len   int    `json:"len"`
	}{Score: h.Sum64() % 1000, Len: len(body)})
	return out
}

// garbage is the body of a "200 with a non-JSON body" answer.
const garbage = "<html>502 Bad Gateway (not JSON)</html>"
