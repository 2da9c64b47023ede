package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/redrive-io/redrive/dlq/inspect"
	"github.com/redrive-io/redrive/pipeline"
)

// parkedAgain says why records of an error class would be parked again as
// soon as the pipeline read them back, whatever the enrichment API does
// now: replaying them only moves them round. Classes not listed may
// succeed on a replay (the API was fixed, the outage is over).
var parkedAgain = map[string]string{
	pipeline.ClassMalformed:      "the value is not a JSON object",
	pipeline.ClassOversize:       "the value is larger than --max-record-bytes (unless it was raised since)",
	pipeline.ClassRuleError:      "--enrich-when cannot be evaluated on it (unless the rule was changed since)",
	pipeline.ClassSchemaMismatch: "it does not fit --parquet-schema (unless the schema was changed since)",
	pipeline.ClassTombstone:      "the value is null (unless --tombstones=skip was set since)",
}

// refuseParkedAgain refuses an --error filter that names classes replay
// would park again, unless --force was given: such a replay is a mistake
// far more often than a plan.
func refuseParkedAgain(classes []string, force bool) error {
	if force {
		return nil
	}
	var why []string
	for _, c := range classes {
		if reason, ok := parkedAgain[c]; ok {
			why = append(why, fmt.Sprintf("%s (%s)", c, reason))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("error: %s records would be parked again on arrival; add --force to replay them anyway", strings.Join(why, ", "))
}

// skipParkedAgain removes from recs the records replay would park again,
// unless force, and counts them by class in skipped.
func skipParkedAgain(recs []inspect.Record, force bool, skipped map[string]int) []inspect.Record {
	if force {
		return recs
	}
	keep := recs[:0:0]
	for _, r := range recs {
		if _, again := parkedAgain[r.Class()]; again {
			skipped[r.Class()]++
			continue
		}
		keep = append(keep, r)
	}
	return keep
}

// describeSkipped is "3 malformed, 2 oversize", by class name.
func describeSkipped(skipped map[string]int) (string, int) {
	classes := make([]string, 0, len(skipped))
	total := 0
	for c, n := range skipped {
		classes = append(classes, c)
		total += n
	}
	sort.Strings(classes)
	parts := make([]string, len(classes))
	for i, c := range classes {
		parts[i] = fmt.Sprintf("%d %s", skipped[c], c)
	}
	return strings.Join(parts, ", "), total
}
