package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/redrive-io/redrive/dlq"
)

// Config is the declarative part of the processor.
type Config struct {
	// Group is the consumer group shared by every redrive pod. Required.
	Group string
	// InputTopic, DLQTopic and ParkingTopic name the topics. Required and
	// distinct. The input and DLQ topics must have the same partition count
	// (goka copartitions them).
	InputTopic, DLQTopic, ParkingTopic string
	// PartitionTime chooses the time that names a record's dt=/hr= folders
	// in S3: "record" (its Kafka timestamp), "field:NAME" (a top-level
	// field holding RFC 3339 or epoch seconds or milliseconds; a record
	// whose field is missing or unparseable is dated by its timestamp and
	// counted in redrive_event_time_fallbacks_total) or "processing"
	// (the hour the sink's batch was opened). Default "record".
	PartitionTime string
	// EnrichField is the output key under which the API's answer is stored.
	// Default "enrichment".
	EnrichField string
	// LookupMiss says what becomes of a record that matches the rule but
	// whose key the lookup table (Deps.Table) lacks: "api" (ask the API),
	// "retry" (transient: around the DLQ, the table may not have caught
	// up) or "pass" (written unenriched, _redrive.lookup_miss true). The
	// topology sets it ("api" when there is an API). Unused without a
	// table.
	LookupMiss string
	// CacheTTL keeps each API answer this long, for the records with the
	// same lookup key (Deps.Key) or, without one, the same request.
	// Default 0: no cache.
	CacheTTL time.Duration
	// CacheSize bounds the answers kept; the least recently used goes
	// first. Default 10000.
	CacheSize int
	// MaxRecordBytes parks records whose value is larger. Default 1 MiB.
	MaxRecordBytes int
	// Tombstones says what becomes of an input record with a null value
	// (a delete on a compacted or CDC topic): "park" it with class
	// tombstone, or "skip" it (counted as route skipped, written
	// nowhere). Either way its offset is committed only in its turn.
	// Default "park".
	Tombstones string
	// MaxPending is the number of records per partition that may be in
	// enrichment or waiting for their S3 batch before fetching of that
	// partition pauses. Default 20000: twice the sink's default batch, so
	// that one batch fills while the previous one uploads.
	MaxPending int
	// MaxPendingBytes bounds the same window in bytes: goka keeps each
	// record until its commit is released, so this is what bounds memory
	// per partition. A record is charged its key and value plus a fixed
	// overhead (recordOverhead). Default 16 MiB: twice the sink's default
	// batch.
	MaxPendingBytes int
	// MaxPendingBytesTotal bounds the same bytes for the whole process:
	// each partition it owns gets an equal share when that is smaller than
	// MaxPendingBytes, so memory does not grow with the partitions a
	// process happens to own. Default 64 MiB.
	MaxPendingBytesTotal int
	// MaxWaiting is the number of not-yet-due DLQ records per partition held
	// in memory before fetching of that DLQ partition pauses. Default 1000.
	MaxWaiting int
	// EnrichWorkers is the number of goroutines that call the enricher.
	// Set it to the enricher's concurrency: more would only queue inside
	// the enricher. Default 32.
	EnrichWorkers int
	// Retry is the DLQ retry policy.
	Retry dlq.Policy
	// FetchBytes is how much one fetch returns per partition. Pausing a
	// partition stops future fetches only: what was fetched still arrives,
	// so this bounds how far a partition overshoots its window. Larger
	// records are still fetched whole. Default 256 KiB.
	FetchBytes int
	// CommitInterval is how often released offsets are committed to
	// Kafka. A crash re-reads what was durable but not yet committed, so
	// a shorter interval means fewer duplicates after a crash. Default 1s.
	CommitInterval time.Duration
	// RevokeFlushTimeout bounds how long a revoked partition waits for its
	// S3 batches and its DLQ writes; what is not durable by then is let go
	// uncommitted (read again later). It must stay under goka's 60 s wait
	// for deferred commits and under RebalanceTimeout. Default 30s.
	RevokeFlushTimeout time.Duration
	// SessionTimeout is the consumer-group session timeout: a member that
	// sends no heartbeat for this long is removed from the group. The
	// broker accepts values between its group.min.session.timeout.ms (6s)
	// and group.max.session.timeout.ms (30m). Default 10s.
	SessionTimeout time.Duration
	// HeartbeatInterval is how often a member heartbeats; at most a third
	// of SessionTimeout. A member learns that another one left the group
	// only at its next heartbeat, so this bounds the pause a departure
	// costs the group. Default 1s (sarama's 3s made a departure stop the
	// group for up to 3 s).
	HeartbeatInterval time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member
	// to rejoin during a rebalance; a member's JoinGroup request may wait
	// that long, so the client's read timeout for the group is set above
	// it. Default 60s.
	RebalanceTimeout time.Duration
}

// SetDefaults fills zero fields with their documented defaults.
func (c *Config) SetDefaults() {
	c.PartitionTime = cmp.Or(c.PartitionTime, PartitionTimeRecord)
	c.EnrichField = cmp.Or(c.EnrichField, "enrichment")
	c.MaxRecordBytes = cmp.Or(c.MaxRecordBytes, 1<<20)
	c.Tombstones = cmp.Or(c.Tombstones, TombstonesPark)
	c.CacheSize = cmp.Or(c.CacheSize, 10000)
	c.MaxPending = cmp.Or(c.MaxPending, 20000)
	c.MaxPendingBytes = cmp.Or(c.MaxPendingBytes, 16<<20)
	c.MaxPendingBytesTotal = cmp.Or(c.MaxPendingBytesTotal, 64<<20)
	c.MaxWaiting = cmp.Or(c.MaxWaiting, 1000)
	c.EnrichWorkers = cmp.Or(c.EnrichWorkers, 32)
	c.RevokeFlushTimeout = cmp.Or(c.RevokeFlushTimeout, 30*time.Second)
	c.FetchBytes = cmp.Or(c.FetchBytes, 256<<10)
	c.CommitInterval = cmp.Or(c.CommitInterval, time.Second)
	c.SessionTimeout = cmp.Or(c.SessionTimeout, 10*time.Second)
	c.HeartbeatInterval = cmp.Or(c.HeartbeatInterval, time.Second)
	c.RebalanceTimeout = cmp.Or(c.RebalanceTimeout, 60*time.Second)
	c.Retry.SetDefaults()
}

// Validate reports the first setting that cannot work, naming it.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("group: required")
	case c.InputTopic == "":
		return errors.New("input-topic: required")
	case c.DLQTopic == "":
		return errors.New("dlq-topic: required")
	case c.ParkingTopic == "":
		return errors.New("parking-topic: required")
	case c.InputTopic == c.DLQTopic || c.InputTopic == c.ParkingTopic || c.DLQTopic == c.ParkingTopic:
		return fmt.Errorf("input-topic, dlq-topic and parking-topic must differ (got %q, %q, %q)", c.InputTopic, c.DLQTopic, c.ParkingTopic)
	case c.LookupMiss != "" && c.LookupMiss != LookupMissAPI && c.LookupMiss != LookupMissRetry && c.LookupMiss != LookupMissPass:
		return fmt.Errorf("lookup-miss: %q is not api, retry or pass", c.LookupMiss)
	case c.Tombstones != TombstonesPark && c.Tombstones != TombstonesSkip:
		return fmt.Errorf("tombstones: %q is not park or skip", c.Tombstones)
	case c.CacheTTL < 0:
		return fmt.Errorf("cache-ttl: must not be negative, got %s", c.CacheTTL)
	case c.CacheSize < 1:
		return fmt.Errorf("cache-size: must be positive, got %d", c.CacheSize)
	case c.MaxRecordBytes < 1:
		return fmt.Errorf("max-record-bytes: must be positive, got %d", c.MaxRecordBytes)
	case c.MaxPending < 1:
		return fmt.Errorf("max-pending: must be positive, got %d", c.MaxPending)
	case c.MaxPendingBytes < c.MaxRecordBytes:
		return fmt.Errorf("max-pending-bytes (%d) must be at least max-record-bytes (%d)", c.MaxPendingBytes, c.MaxRecordBytes)
	case c.MaxPendingBytesTotal < c.MaxRecordBytes:
		return fmt.Errorf("max-pending-bytes-total (%d) must be at least max-record-bytes (%d)", c.MaxPendingBytesTotal, c.MaxRecordBytes)
	case c.MaxWaiting < 1:
		return fmt.Errorf("max-waiting: must be positive, got %d", c.MaxWaiting)
	case c.FetchBytes < 1024:
		return fmt.Errorf("fetch-bytes: %d is too small (at least 1KiB)", c.FetchBytes)
	case c.CommitInterval < 10*time.Millisecond:
		return fmt.Errorf("commit-interval: %s is too short (at least 10ms)", c.CommitInterval)
	case c.EnrichWorkers < 1:
		return fmt.Errorf("enrich-concurrency: must be positive, got %d (it sizes the enrichment workers)", c.EnrichWorkers)
	case c.RevokeFlushTimeout >= 60*time.Second:
		return fmt.Errorf("revoke flush timeout %s must stay under goka's 60s wait", c.RevokeFlushTimeout)
	case c.SessionTimeout < time.Second:
		return fmt.Errorf("session-timeout: %s is too short (at least 1s; brokers refuse less than their group.min.session.timeout.ms, 6s by default)", c.SessionTimeout)
	case c.HeartbeatInterval <= 0 || c.HeartbeatInterval*3 > c.SessionTimeout:
		return fmt.Errorf("heartbeat-interval: %s must be positive and at most a third of session-timeout (%s)", c.HeartbeatInterval, c.SessionTimeout)
	case c.RebalanceTimeout < c.SessionTimeout:
		return fmt.Errorf("rebalance-timeout: %s must be at least session-timeout (%s)", c.RebalanceTimeout, c.SessionTimeout)
	case c.RevokeFlushTimeout >= c.RebalanceTimeout:
		return fmt.Errorf("rebalance-timeout: %s must be longer than the revoke flush timeout (%s, two thirds of shutdown-grace at most 30s), so that a revoked member rejoins in time", c.RebalanceTimeout, c.RevokeFlushTimeout)
	}
	if _, err := parsePartitionTime(c.PartitionTime); err != nil {
		return err
	}
	if err := c.Retry.Validate(); err != nil {
		return err
	}
	return nil
}

// applyGroup sets the consumer-group timeouts on a sarama config. sarama
// reads every response within Net.ReadTimeout (30 s), JoinGroup included,
// while the coordinator may hold a join for RebalanceTimeout: the group's
// read timeout is raised above it, so that a slow join is waited for
// instead of failing with an i/o timeout.
//
// A member whose heartbeats fail for SessionTimeout has been dropped by the
// coordinator already, but sarama's heartbeat loop retries each failure
// with a coordinator look-up that itself retries (Metadata.Retry, 10 times
// 500 ms by default): with the brokers down, a session would linger for
// about a minute, consuming nothing and looking ready. The group's client
// retries less and dials with SessionTimeout at most, so that a lost
// coordinator ends the session in about SessionTimeout and the supervisor
// takes over.
func (c Config) applyGroup(s *sarama.Config) {
	s.Consumer.Group.Session.Timeout = c.SessionTimeout
	s.Consumer.Group.Heartbeat.Interval = c.HeartbeatInterval
	s.Consumer.Group.Rebalance.Timeout = c.RebalanceTimeout
	s.Net.ReadTimeout = max(s.Net.ReadTimeout, c.RebalanceTimeout+5*time.Second)
	s.Net.DialTimeout = min(s.Net.DialTimeout, c.SessionTimeout)
	s.Metadata.Retry.Max = 3
	s.Metadata.Retry.Backoff = 500 * time.Millisecond
	// sarama notices partitions added to a consumed topic at this
	// interval (10 minutes by default); until then they are read by
	// nobody, and no lag is reported for them.
	s.Metadata.RefreshFrequency = partitionCheckInterval
}

// partitionCheckInterval is how often the group's client looks for
// partitions added to the input or DLQ topic.
const partitionCheckInterval = time.Minute
