package enrich_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/redrive-io/redrive/enrich"
	"github.com/redrive-io/redrive/enrich/mockapi"
)

// Example shows the pipeline's use of the package: decide with a Rule, call
// Enrich, and route a failure by its class.
func Example() {
	api := httptest.NewServer(mockapi.New(mockapi.Config{Seed: 1}))
	defer api.Close()

	rule, err := enrich.CompileRule(`category == "X"`)
	if err != nil {
		panic(err)
	}
	client, err := enrich.New(enrich.Config{URL: api.URL + "/users/{user_id}", Method: "GET"})
	if err != nil {
		panic(err)
	}
	defer client.Close()

	for _, value := range []string{`{"user_id":"u1","category":"X"}`, `{"category":"X"}`, `{"user_id":"u2","category":"Y"}`} {
		var fields map[string]any
		_ = json.Unmarshal([]byte(value), &fields)
		if ok, err := rule.Match(fields); err != nil || !ok {
			fmt.Println("to the sink as is")
			continue
		}
		answer, err := client.Enrich(context.Background(), []byte(value), fields)
		switch {
		case err == nil:
			fmt.Println("enriched:", string(answer))
		case enrich.ClassOf(err) == enrich.ClassCanceled:
			fmt.Println("hand off unchanged")
		case enrich.IsRetryable(err):
			fmt.Println("to the DLQ:", enrich.ClassOf(err))
		default:
			fmt.Println("to parking:", enrich.ClassOf(err))
		}
	}
	// Output:
	// enriched: {"score":659,"len":0}
	// to parking: bad_input
	// to the sink as is
}
