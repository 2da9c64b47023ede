package enrich_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/enrich/mockapi"
)

// TestAgainstMockAPI proves the client and the mock API together, as the
// demo runs them: every answer that succeeds is the API's own (derived from
// the record), every failure has the class its status implies, and the
// client's view of the outcome matches the server's counts.
func TestAgainstMockAPI(t *testing.T) {
	api := mockapi.New(mockapi.Config{ErrorRate: 0.1, PermanentRate: 0.05, GarbageRate: 0.05, Seed: 7})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	c, err := enrich.New(enrich.Config{URL: srv.URL + "/enrich", Retries: enrich.NoRetries, Concurrency: 8, BreakerFailures: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	const n = 400
	var mu sync.Mutex
	classes := map[enrich.Class]int64{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			value := []byte(fmt.Sprintf(`{"id":%d}`, i))
			out, err := c.Enrich(context.Background(), value, nil)
			if err == nil && string(out) != string(mockapi.Answer("/enrich", value)) {
				t.Errorf("record %d: answer %s is not the API's", i, out)
			}
			mu.Lock()
			classes[enrich.ClassOf(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	st := api.Stats()
	if classes[""] != st.OK || classes[enrich.ClassServer] != st.ServerErrors ||
		classes[enrich.ClassClient] != st.ClientErrors || classes[enrich.ClassBadResponse] != st.Garbage {
		t.Errorf("client classes %v do not match server stats %+v", classes, st)
	}
	if st.MaxInFlight > 8 {
		t.Errorf("server saw %d requests at once, want <= 8", st.MaxInFlight)
	}
}
