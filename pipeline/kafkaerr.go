package pipeline

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
)

// KafkaFault is the class of an error from Kafka, decided once here and
// obeyed by the supervisor (which rejoins or gives up) and the forwarder
// (which retries, reduces a record or abandons it).
type KafkaFault string

// Kafka fault classes. Each is also the "cause" label of
// redrive_kafka_session_restarts_total. These are transient: the session
// is rejoined, the view rebuilt, the write retried.
const (
	// FaultUnreachable: no broker answered (refused, reset, EOF, out of brokers).
	FaultUnreachable KafkaFault = "unreachable"
	// FaultTimeout: a request or dial timed out, e.g. a join that waited long.
	FaultTimeout KafkaFault = "timeout"
	// FaultCoordinator: the group coordinator moved, is loading or is not yet known.
	FaultCoordinator KafkaFault = "coordinator"
	// FaultRebalance: the session was fenced by a rebalance (unknown member, stale generation).
	FaultRebalance KafkaFault = "rebalance"
	// FaultLeader: a partition's leader moved or is not available; a produce is retried.
	FaultLeader KafkaFault = "leader"
	// FaultProcessing: a partition stopped with an error (goka errProcessing),
	// e.g. records let go uncommitted while Kafka could not be written.
	FaultProcessing KafkaFault = "processing"
	// FaultPartitions: a consumed topic's partition count changed, or the
	// input and DLQ topics no longer have the same count, which goka
	// needs to assign them together (its copartitioning plan fails).
	// Growing the DLQ fixes it without a restart.
	FaultPartitions KafkaFault = "partitions"
	// FaultTooLarge: a record can never be written to that topic as it is.
	FaultTooLarge KafkaFault = "too_large"
	// FaultOther: anything else; treated as transient.
	FaultOther KafkaFault = "other"
)

// Fatal reports whether the fault ends the process: only the configuration
// faults below do. Everything else is retried or rebuilt with backoff.
func (f KafkaFault) Fatal() bool {
	switch f {
	case FaultMissingTopic, FaultAuth, FaultConfig:
		return true
	}
	return false
}

// The fatal faults: the configuration cannot work, and retrying would not
// change that.
const (
	// FaultMissingTopic: a topic does not exist.
	FaultMissingTopic KafkaFault = "missing_topic"
	// FaultAuth: authentication or authorization failed.
	FaultAuth KafkaFault = "auth"
	// FaultConfig: the configuration cannot work (sarama's
	// ConfigurationError, an unsupported version, a bad session timeout, TLS trust).
	FaultConfig KafkaFault = "config"
)

// ClassifyKafka returns the class of an error returned by sarama (directly,
// wrapped, or inside goka's multierrors).
func ClassifyKafka(err error) KafkaFault {
	if err == nil {
		return ""
	}
	if errors.Is(err, sarama.ErrSessionPartitionCountChanged) || isGokaCopartitionPlan(err) {
		return FaultPartitions
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		if f, ok := kerrorFaults[ke]; ok {
			return f
		}
		if f, ok := classifyOutOfBrokers(err); ok {
			return f
		}
		return FaultOther
	}
	var ce sarama.ConfigurationError
	if errors.As(err, &ce) {
		if strings.Contains(string(ce), "MaxMessageBytes") {
			// sarama refuses locally a message larger than its
			// Producer.MaxMessageBytes.
			return FaultTooLarge
		}
		return FaultConfig
	}
	var unknownAuthority x509.UnknownAuthorityError
	var certInvalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &certInvalid), errors.As(err, &hostname):
		return FaultConfig
	case errors.Is(err, sarama.ErrOutOfBrokers), errors.Is(err, sarama.ErrNotConnected),
		errors.Is(err, sarama.ErrClosedClient), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed):
		return FaultUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sarama.ErrRebalanceTimedOut):
		return FaultTimeout
	case errors.Is(err, sarama.ErrProducerRetryBufferOverflow), errors.Is(err, breaker.ErrBreakerOpen):
		return FaultLeader
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return FaultTimeout
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return FaultUnreachable
	}
	if isGokaProcessing(err) {
		return FaultProcessing
	}
	return FaultOther
}

// classifyOutOfBrokers: sarama wraps the errors of each broker it tried in
// ErrOutOfBrokers; a wrapped KError is then not the cause.
func classifyOutOfBrokers(err error) (KafkaFault, bool) {
	if errors.Is(err, sarama.ErrOutOfBrokers) {
		return FaultUnreachable, true
	}
	return "", false
}

// isGokaCopartitionPlan recognises the error of goka's copartitioning
// balance strategy when the topics' partition counts differ, by its text:
// goka offers no type or sentinel for it.
func isGokaCopartitionPlan(err error) bool {
	return strings.Contains(err.Error(), "Not all topics are copartitioned")
}

// isGokaProcessing recognises goka's unexported errProcessing by its text:
// goka offers no type or sentinel for it.
func isGokaProcessing(err error) bool {
	return strings.Contains(err.Error(), "error processing message (partition=")
}

// kerrorFaults classifies Kafka's own error codes.
var kerrorFaults = map[sarama.KError]KafkaFault{
	sarama.ErrUnknownTopicOrPartition:            FaultMissingTopic,
	sarama.ErrTopicAuthorizationFailed:           FaultAuth,
	sarama.ErrGroupAuthorizationFailed:           FaultAuth,
	sarama.ErrClusterAuthorizationFailed:         FaultAuth,
	sarama.ErrSASLAuthenticationFailed:           FaultAuth,
	sarama.ErrUnsupportedSASLMechanism:           FaultAuth,
	sarama.ErrIllegalSASLState:                   FaultAuth,
	sarama.ErrTransactionalIDAuthorizationFailed: FaultAuth,
	sarama.ErrDelegationTokenAuthorizationFailed: FaultAuth,
	sarama.ErrUnsupportedVersion:                 FaultConfig,
	sarama.ErrInvalidSessionTimeout:              FaultConfig,
	sarama.ErrInconsistentGroupProtocol:          FaultConfig,
	sarama.ErrInvalidConfig:                      FaultConfig,
	sarama.ErrMessageSizeTooLarge:                FaultTooLarge,
	sarama.ErrMessageSetSizeTooLarge:             FaultTooLarge,
	sarama.ErrInvalidMessageSize:                 FaultTooLarge,
	sarama.ErrInvalidRecord:                      FaultTooLarge,
	sarama.ErrRequestTimedOut:                    FaultTimeout,
	sarama.ErrNetworkException:                   FaultUnreachable,
	sarama.ErrBrokerNotAvailable:                 FaultUnreachable,
	sarama.ErrNotCoordinatorForConsumer:          FaultCoordinator,
	sarama.ErrConsumerCoordinatorNotAvailable:    FaultCoordinator,
	sarama.ErrOffsetsLoadInProgress:              FaultCoordinator,
	sarama.ErrRebalanceInProgress:                FaultRebalance,
	sarama.ErrUnknownMemberId:                    FaultRebalance,
	sarama.ErrIllegalGeneration:                  FaultRebalance,
	sarama.ErrFencedInstancedId:                  FaultRebalance,
	sarama.ErrMemberIdRequired:                   FaultRebalance,
	sarama.ErrGroupMaxSizeReached:                FaultRebalance,
	sarama.ErrNotLeaderForPartition:              FaultLeader,
	sarama.ErrLeaderNotAvailable:                 FaultLeader,
	sarama.ErrReplicaNotAvailable:                FaultLeader,
	sarama.ErrNotEnoughReplicas:                  FaultLeader,
	sarama.ErrNotEnoughReplicasAfterAppend:       FaultLeader,
	sarama.ErrKafkaStorageError:                  FaultLeader,
	sarama.ErrFencedLeaderEpoch:                  FaultLeader,
	sarama.ErrUnknownLeaderEpoch:                 FaultLeader,
	sarama.ErrOffsetNotAvailable:                 FaultLeader,
}
