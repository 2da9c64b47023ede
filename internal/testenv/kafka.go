package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// kafkaStartTimeout bounds how long the script waits for nodes to serve.
// A cold node takes about 3 s here, three at once about 7 s; the margin is
// for a machine busy with other test packages.
const kafkaStartTimeout = 150 * time.Second

// Kafka is a real Apache Kafka cluster (KRaft, every node both broker and
// controller) started by scripts/kafka.sh. Node i (1-based) has node.id i
// and listens on Brokers[i-1].
//
// Topics are never created automatically (auto.create.topics.enable=false).
// With 3 nodes the defaults are replication factor 3 and min.insync.replicas
// 2; with 1 node both are 1. A killed node is fenced after 4 s.
type Kafka struct {
	// Brokers are the nodes' broker addresses, 127.0.0.1:PORT, node 1 first.
	Brokers []string
	// Dir holds the cluster: DIR/node-I/{server.properties,server.log,data}.
	Dir string
	// Nodes is the number of nodes, 1 or 3.
	Nodes int

	script string
	mu     sync.Mutex
	nodes  []*child // index i-1; nil or exited when node i is stopped
}

// StartKafka starts a cluster of nodes (1 or 3) in a fresh folder with free
// ports and returns once every broker serves and the controller quorum has a
// leader. ctx bounds the start only: the cluster lives until Close. It
// retries with fresh ports when one was taken meanwhile.
func StartKafka(ctx context.Context, nodes int) (*Kafka, error) {
	if nodes != 1 && nodes != 3 {
		return nil, fmt.Errorf("testenv: %d Kafka nodes: want 1 or 3", nodes)
	}
	path, err := script("kafka.sh")
	if err != nil {
		return nil, err
	}
	return withFreshPorts(func() (*Kafka, error) { return startKafkaOnce(ctx, path, nodes) })
}

func startKafkaOnce(ctx context.Context, path string, nodes int) (*Kafka, error) {
	dir, err := os.MkdirTemp("", "redrive-kafka-")
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	ports, err := FreePorts(2 * nodes)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	list := make([]string, len(ports))
	for i, p := range ports {
		list[i] = strconv.Itoa(p)
	}
	k := &Kafka{Dir: dir, Nodes: nodes, script: path, nodes: make([]*child, nodes)}
	out, err := runScript(ctx, path, "prepare", "--dir", dir, "--nodes", strconv.Itoa(nodes),
		"--ports", strings.Join(list, ","))
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	k.Brokers = strings.Split(out, ",")
	for i := 1; i <= nodes; i++ {
		if err := k.spawn(i); err != nil {
			return nil, errors.Join(err, k.Close())
		}
	}
	if err := k.wait(ctx, 0); err != nil {
		if k.logsSay("Address already in use") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, errors.Join(err, k.Close())
	}
	return k, nil
}

// spawn starts node i's JVM as a child of this process.
func (k *Kafka) spawn(i int) error {
	pid := filepath.Join(k.Dir, "node-"+strconv.Itoa(i), "pid")
	c, err := startChild(k.LogPath(i), pid, k.script, "run-node", "--dir", k.Dir, "--node", strconv.Itoa(i))
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.nodes[i-1] = c
	k.mu.Unlock()
	return nil
}

// wait waits until node i serves (every node when i is 0).
func (k *Kafka) wait(ctx context.Context, i int) error {
	args := []string{"wait", "--dir", k.Dir, "--timeout", strconv.Itoa(int(kafkaStartTimeout.Seconds()))}
	if i > 0 {
		args = append(args, "--node", strconv.Itoa(i))
	}
	_, err := runScript(ctx, k.script, args...)
	return err
}

// LogPath returns node i's log file (1-based), for a failing test to show.
func (k *Kafka) LogPath(i int) string {
	return filepath.Join(k.Dir, "node-"+strconv.Itoa(i), "server.log")
}

// logsSay tells whether any node's log contains s.
func (k *Kafka) logsSay(s string) bool {
	for i := 1; i <= k.Nodes; i++ {
		if b, err := os.ReadFile(k.LogPath(i)); err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

// node returns node i's process, checking i.
func (k *Kafka) node(i int) (*child, error) {
	if i < 1 || i > k.Nodes {
		return nil, fmt.Errorf("testenv: node %d: the cluster has nodes 1..%d", i, k.Nodes)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nodes[i-1], nil
}

// StopNode stops node i (1-based) with sig, "KILL" (a crash: no controlled
// shutdown, no flush) or "TERM" (a clean stop: leadership moves first,
// SIGKILL after 30 s). It returns once the process has exited; its data and
// config stay for StartNode.
func (k *Kafka) StopNode(i int, sig string) error {
	s, err := parseSignal(sig)
	if err != nil {
		return err
	}
	c, err := k.node(i)
	if err != nil {
		return err
	}
	if c == nil || c.Exited() {
		return fmt.Errorf("testenv: Kafka node %d is not running", i)
	}
	return c.stop(s, 30*time.Second)
}

// StartNode starts node i (1-based) again with its config and data, and
// returns once it serves as a broker again (registered and unfenced). Its
// replicas may still be catching up: see WaitInSync.
func (k *Kafka) StartNode(i int) error {
	c, err := k.node(i)
	if err != nil {
		return err
	}
	if c != nil && !c.Exited() {
		return fmt.Errorf("testenv: Kafka node %d is already running", i)
	}
	if err := k.spawn(i); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaStartTimeout+10*time.Second)
	defer cancel()
	return k.wait(ctx, i)
}

// Running tells whether node i's process is alive.
func (k *Kafka) Running(i int) bool {
	c, err := k.node(i)
	return err == nil && c != nil && !c.Exited()
}

// Close kills every node and removes the cluster's folder (kept when
// REDRIVE_TESTENV_KEEP=1). The data is thrown away, so there is nothing to
// shut down cleanly: SIGKILL is immediate where a clean stop of three nodes
// takes seconds.
func (k *Kafka) Close() error {
	k.mu.Lock()
	nodes := append([]*child(nil), k.nodes...)
	k.mu.Unlock()
	for _, c := range nodes {
		if c != nil {
			_ = c.stop(syscall.SIGKILL, 10*time.Second)
		}
	}
	return removeDir(k.Dir)
}
