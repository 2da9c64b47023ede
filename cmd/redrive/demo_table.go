package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/enrich/mockapi"
	"github.com/redrive-io/redrive/pipeline"
)

// profilesTopic is the demo's lookup table: a compacted topic of user
// profiles, keyed by user id.
const profilesTopic = "profiles"

// knownUser says whether the demo's table holds a user: four in five of
// them (those whose number is not a multiple of 5).
func knownUser(id string) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "u"))
	return err == nil && n%5 != 0
}

// fillProfiles creates the compacted profiles topic and writes a profile
// for every known user of the samples, before redrive starts (a table
// filled later is fine too: redrive follows it). It returns how many.
func fillProfiles(brokers []string, cfg *sarama.Config, partitions int, samples [][]byte) (int, error) {
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return 0, fmt.Errorf("demo admin: %w", err)
	}
	defer admin.Close()
	compact := "compact"
	err = admin.CreateTopic(profilesTopic, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"cleanup.policy": &compact}}, false)
	if err != nil {
		return 0, fmt.Errorf("demo: creating %s: %w", profilesTopic, err)
	}
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return 0, fmt.Errorf("demo producer: %w", err)
	}
	defer p.Close()
	seen := map[string]bool{}
	var msgs []*sarama.ProducerMessage
	for _, s := range samples {
		id := userID(s)
		if id == "" || seen[id] || !knownUser(id) {
			continue
		}
		seen[id] = true
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "u"))
		value := fmt.Sprintf(`{"segment":%q,"lifetime_orders":%d}`, []string{"new", "regular", "vip"}[n%3], n*7%97)
		msgs = append(msgs, &sarama.ProducerMessage{Topic: profilesTopic, Key: sarama.StringEncoder(id), Value: sarama.StringEncoder(value)})
	}
	if err := p.SendMessages(msgs); err != nil {
		return 0, fmt.Errorf("demo: writing profiles: %w", err)
	}
	return len(msgs), nil
}

// countUsers counts the distinct users of the samples.
func countUsers(samples [][]byte) int {
	seen := map[string]bool{}
	for _, s := range samples {
		if id := userID(s); id != "" {
			seen[id] = true
		}
	}
	return len(seen)
}

// sourceTally counts the output lines by where their enrichment came from,
// and the table answers handed to the sink before the API's outage ended.
type sourceTally struct {
	outageEnd     time.Time
	bySource      map[string]int
	tableRetried  int // table answers after a DLQ trip (there should be none)
	tableInOutage int // table answers written before the outage ended
}

func (s *sourceTally) add(line []byte) {
	var l struct {
		Meta pipeline.Meta `json:"_redrive"`
	}
	if json.Unmarshal(line, &l) != nil || !l.Meta.Enriched {
		return
	}
	if s.bySource == nil {
		s.bySource = map[string]int{}
	}
	s.bySource[l.Meta.Source]++
	if l.Meta.Source != pipeline.SourceTable {
		return
	}
	if l.Meta.Attempt > 0 {
		s.tableRetried++
	}
	if l.Meta.WrittenAt.Before(s.outageEnd) {
		s.tableInOutage++
	}
}

// report prints the closing lines about the table and the cache.
func (s *sourceTally) report(w io.Writer, outage mockapi.Window) {
	table, cache, api := s.bySource[pipeline.SourceTable], s.bySource[pipeline.SourceCache], s.bySource[pipeline.SourceAPI]
	fmt.Fprintf(w, "enriched %d records: %d from the lookup table, %d from the cache, %d from the API\n", table+cache+api, table, cache, api)
	fmt.Fprintf(w, "API outage %s+%s: %d of the %d records enriched from the table were written to S3 before it ended; %d of them took a DLQ trip\n",
		outage.Start, outage.Duration, s.tableInOutage, table, s.tableRetried)
}
