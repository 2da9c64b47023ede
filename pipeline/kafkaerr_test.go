package pipeline

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
	"github.com/hashicorp/go-multierror"
)

// The supervisor's one place of judgement: which Kafka faults are retried
// (the process stays up) and which are configuration errors that end it.
func TestClassifyKafka(t *testing.T) {
	ioTimeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		name  string
		err   error
		fault KafkaFault
		fatal bool
	}{
		{"broker outage", fmt.Errorf("closing: %w", sarama.ErrOutOfBrokers), FaultUnreachable, false},
		{"out of brokers wrapping a dial error", sarama.Wrap(sarama.ErrOutOfBrokers, refused), FaultUnreachable, false},
		{"join read timed out", fmt.Errorf("error consuming from group consumer: %w", ioTimeout), FaultTimeout, false},
		{"connection refused", refused, FaultUnreachable, false},
		{"connection reset", syscall.ECONNRESET, FaultUnreachable, false},
		{"EOF mid-response", io.EOF, FaultUnreachable, false},
		{"coordinator moved", sarama.ErrNotCoordinatorForConsumer, FaultCoordinator, false},
		{"coordinator loading", sarama.ErrOffsetsLoadInProgress, FaultCoordinator, false},
		{"fenced by a rebalance", sarama.ErrUnknownMemberId, FaultRebalance, false},
		{"rebalance in progress", sarama.ErrRebalanceInProgress, FaultRebalance, false},
		{"leader moved", sarama.ErrNotLeaderForPartition, FaultLeader, false},
		{"not enough replicas", sarama.ErrNotEnoughReplicas, FaultLeader, false},
		{"producer breaker open", fmt.Errorf("writing: %w", breaker.ErrBreakerOpen), FaultLeader, false},
		{"request timed out", sarama.ErrRequestTimedOut, FaultTimeout, false},
		{"a context deadline", context.DeadlineExceeded, FaultTimeout, false},
		{"goka processing error in a multierror", multierror.Append(nil, errors.New("error processing message (partition=3): let go")), FaultProcessing, false},
		{"partitions added to a consumed topic", sarama.ErrSessionPartitionCountChanged, FaultPartitions, false},
		{"goka's plan for topics of different counts", errors.New(`Error balancing. Not all topics are copartitioned. For goka, all topics need to have the same number of partitions: map[string][]int32{"in":[]int32{0, 1}, "in.dlq":[]int32{0}}`), FaultPartitions, false},
		{"something new", errors.New("kafka: something nobody has seen"), FaultOther, false},

		{"record too large (broker)", sarama.ErrMessageSizeTooLarge, FaultTooLarge, false},
		{"record too large (sarama's own limit)", sarama.ConfigurationError("Attempt to produce message larger than configured Producer.MaxMessageBytes: 1048764 > 1048576"), FaultTooLarge, false},
		{"batch too large", sarama.ErrMessageSetSizeTooLarge, FaultTooLarge, false},

		{"missing topic", sarama.ErrUnknownTopicOrPartition, FaultMissingTopic, true},
		{"topic ACL", sarama.ErrTopicAuthorizationFailed, FaultAuth, true},
		{"group ACL", fmt.Errorf("joining: %w", sarama.ErrGroupAuthorizationFailed), FaultAuth, true},
		{"SASL failed behind out-of-brokers", sarama.Wrap(sarama.ErrOutOfBrokers, sarama.ErrSASLAuthenticationFailed), FaultAuth, true},
		{"invalid session timeout", sarama.ErrInvalidSessionTimeout, FaultConfig, true},
		{"sarama configuration", sarama.ConfigurationError("Net.ReadTimeout must be > 0"), FaultConfig, true},
		{"untrusted certificate", fmt.Errorf("tls: %w", x509.UnknownAuthorityError{}), FaultConfig, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ClassifyKafka(c.err)
			if got != c.fault || got.Fatal() != c.fatal {
				t.Fatalf("ClassifyKafka(%v) = %q (fatal %v), want %q (fatal %v)", c.err, got, got.Fatal(), c.fault, c.fatal)
			}
		})
	}
	if ClassifyKafka(nil) != "" {
		t.Fatal("nil error classified")
	}
}
