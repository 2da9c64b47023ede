#!/usr/bin/env bash
# kafka.sh: a real Apache Kafka cluster (KRaft, combined broker+controller
# nodes) on 127.0.0.1, for redrive's tests and for trying things by hand.
#
#   kafka.sh fetch                                   resolve the jars into .cache/ (idempotent)
#   kafka.sh up --dir DIR --nodes 1|3 [--base-port P | --ports B1,C1,B2,C2,...]
#                                                    prepare, start every node, wait, print the bootstrap list
#   kafka.sh down --dir DIR                          stop every node (TERM, then KILL)
#   kafka.sh stop-node --dir DIR --node I [--signal TERM|KILL]
#   kafka.sh start-node --dir DIR --node I           restart a node with its config and data
#   kafka.sh bootstrap --dir DIR                     print the bootstrap list
#
# Building blocks (used by `up` and by the Go package internal/testenv, which
# starts each JVM as its own child so that the kernel kills it if the test
# binary dies):
#   kafka.sh prepare --dir DIR --nodes N [--base-port P | --ports ...]
#                                                    write configs, format storage with one cluster id
#   kafka.sh run-node --dir DIR --node I             exec the JVM in the foreground (log: DIR/node-I/server.log)
#   kafka.sh wait --dir DIR [--node I] [--timeout S] wait until the node(s) serve as brokers
#
# Processes are only ever stopped through their pid files, never by name.
# Node I listens on broker port B_I and controller port C_I; with --base-port P
# those are P+2(I-1) and P+2(I-1)+1.
#
# Environment: KAFKA_VERSION (default 4.4.0), JAVA (default $JAVA_HOME/bin/java
# or java), KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS, MAVEN_REPO_LOCAL (a Maven local
# repository other than ~/.m2, e.g. to measure a cold fetch).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
SCALA_VERSION="2.13"
LOG4J_VERSION="2.25.5" # the version kafka_2.13:$KAFKA_VERSION itself depends on
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
CACHE="$ROOT/.cache/kafka/$KAFKA_VERSION"
LIBS="$CACHE/libs"
START_MARK="=== kafka.sh run-node:"
READY_LINE="Kafka Server started"

die() { echo "kafka.sh: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------- fetch

fetch() {
	if [[ -f "$LIBS/.complete" ]]; then
		find_java
		[[ -f "$CDS" ]] || train_cds
		echo "$LIBS"
		return
	fi
	command -v mvn >/dev/null || die "mvn not found: install Maven to fetch Kafka's jars"
	local work="$CACHE/fetch.$$"
	rm -rf "$work"
	mkdir -p "$work"
	# kafka_2.13 holds kafka.Kafka and kafka.tools.StorageTool; its runtime
	# dependencies bring log4j-core but no SLF4J binding, without which the
	# broker logs nothing, so log4j-slf4j-impl (SLF4J 1.x) is added.
	cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.redrive.testenv</groupId>
  <artifactId>kafka-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	local repo=()
	[[ -n "${MAVEN_REPO_LOCAL:-}" ]] && repo=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
	log "resolving kafka_$SCALA_VERSION:$KAFKA_VERSION with Maven (once)"
	if ! mvn -B -q -f "$work/pom.xml" "${repo[@]}" \
		"$DEPENDENCY_PLUGIN:copy-dependencies" \
		-DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
		cat "$work/mvn.log" >&2
		die "Maven could not resolve Kafka's jars (log kept in $work)"
	fi
	touch "$work/libs/.complete"
	rm -rf "$LIBS"
	mv "$work/libs" "$LIBS"
	rm -rf "$work"
	find_java
	train_cds
	echo "$LIBS"
}

# train_cds starts a throw-away 1-node broker once and keeps the classes it
# loaded in a dynamic class-data archive (Java 13+). Without it, three nodes
# starting together on 2 cores take about twice as long. A failure here only
# costs speed.
train_cds() {
	local work="$CACHE/cds-training.$$" port
	rm -rf "$work"
	mkdir -p "$work" "$(dirname "$CDS")"
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		port_open "$port" || port_open "$((port + 1))" || break
	done
	log "recording a class-data archive for $JAVA (once)"
	# shellcheck disable=SC2030 # the subshell's DIR, NODES, PORTS are its own
	if (
		DIR="$work" NODES=1 PORTS="$port,$((port + 1))"
		prepare >/dev/null && load || exit 1
		JVM_EXEC=1 jvm -Xmx384m -XX:+UseSerialGC -XX:ArchiveClassesAtExit="$work/cds.jsa" \
			kafka.Kafka "$work/node-1/server.properties" >"$work/node-1/server.log" 2>&1 &
		pid=$!
		deadline=$((SECONDS + 90))
		until grep -q "$READY_LINE" "$work/node-1/server.log"; do
			kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)) || { kill -KILL "$pid" 2>/dev/null; exit 1; }
			sleep 0.2
		done
		kill -TERM "$pid" # the archive is written as the JVM exits
		wait "$pid" || true
	) && [[ -s "$work/cds.jsa" ]]; then
		mv "$work/cds.jsa" "$CDS"
		rm -rf "$work"
	else
		log "no class-data archive (nodes start slower); see $work"
	fi
}

# find_java sets JAVA (a Java 17+ binary) and CDS (the class-data archive
# made by fetch for this very JVM, which halves a node's start-up CPU).
find_java() {
	local j="${JAVA:-}"
	if [[ -z "$j" ]]; then
		if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then j="$JAVA_HOME/bin/java"; else j="$(command -v java || true)"; fi
	fi
	[[ -n "$j" ]] || die "java not found: Kafka $KAFKA_VERSION needs Java 17 or later"
	local props major
	props="$("$j" -XshowSettings:properties -version 2>&1)" || die "$j does not run"
	major="$(sed -n 's/^ *java.specification.version = //p' <<<"$props")"
	[[ "${major%%.*}" -ge 17 ]] 2>/dev/null || die "$j is Java '$major'; Kafka $KAFKA_VERSION needs 17 or later"
	JAVA="$j"
	CDS="$CACHE/cds/$(grep -E '^ *java\.(home|vm\.version) = ' <<<"$props" | md5sum | cut -c1-16).jsa"
}

# jvm runs a JVM with Kafka's jars and the class-data archive when there is
# one (when it does not match, -Xshare:auto makes the JVM go on without it).
jvm() {
	local cds=() run=()
	[[ -f "$CDS" ]] && cds=("-XX:SharedArchiveFile=$CDS" -Xshare:auto)
	[[ -n "${JVM_EXEC:-}" ]] && run=(exec)
	# shellcheck disable=SC2031 # DIR is the caller's (train_cds sets its own)
	"${run[@]}" "$JAVA" "${cds[@]}" -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$DIR/log4j2.properties" -cp "$LIBS/*" "$@"
}

need_libs() { [[ -f "$LIBS/.complete" ]] || die "Kafka's jars are not fetched: run '$0 fetch' (or make tools)"; }

# ---------------------------------------------------------------- options

DIR="" NODES="" BASE_PORT="" PORTS="" NODE="" SIGNAL="TERM" TIMEOUT="120"
BOOTSTRAP="" # set by load from cluster.env
parse() { parse_options dir nodes base-port ports node signal timeout -- "$@"; }

# load reads the cluster's description written by prepare.
load() {
	[[ -f "$DIR/cluster.env" ]] || die "$DIR holds no cluster: run '$0 up' or 'prepare' first"
	# shellcheck disable=SC1091
	source "$DIR/cluster.env"
}

check_node() {
	[[ "$NODE" =~ ^[0-9]+$ && "$NODE" -ge 1 && "$NODE" -le "$NODES" ]] || die "--node must be 1..$NODES"
}

# ---------------------------------------------------------------- prepare

random_cluster_id() {
	# A Kafka Uuid is 16 random bytes in URL-safe base64 without padding. One
	# that starts with '-' would read as an option, so draw again.
	local id
	while :; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
		[[ "$id" != -* ]] && { echo "$id"; return; }
	done
}

write_config() { # node broker_port controller_port voters rf min_isr
	local i="$1" bport="$2" cport="$3" voters="$4" rf="$5" isr="$6" nd="$DIR/node-$1"
	# Left over from a prepare that failed half way: format anew.
	rm -rf "$nd/data"
	mkdir -p "$nd"
	cat >"$nd/server.properties" <<EOF
# Generated by scripts/kafka.sh for tests: one combined KRaft node on loopback.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$nd/data

# redrive creates its own topics; a typo must fail, not create a topic.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
# Fewer internal partitions than the defaults (50) make the first consumer
# group and the first transaction start quickly.
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0

# Failure tests: a killed node is fenced (and leaves the ISRs) after 4 s
# instead of 9 s; a slow follower leaves the ISR after 10 s instead of 30 s.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=4000
replica.lag.time.max.ms=10000

# Small and quiet on a 2-core machine.
num.network.threads=2
num.io.threads=2
background.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
EOF
}

prepare() {
	[[ "$NODES" == 1 || "$NODES" == 3 ]] || die "--nodes must be 1 or 3"
	need_libs
	find_java
	if [[ -f "$DIR/cluster.env" ]]; then
		die "$DIR already holds a cluster: use start-node, or down and remove it"
	fi
	local -a ports
	if [[ -n "$PORTS" ]]; then
		IFS=, read -r -a ports <<<"$PORTS"
		[[ ${#ports[@]} -eq $((2 * NODES)) ]] || die "--ports needs $((2 * NODES)) ports (broker,controller per node)"
	else
		local base="${BASE_PORT:-19092}" i
		for ((i = 0; i < 2 * NODES; i++)); do ports+=($((base + i))); done
	fi
	local rf=1 isr=1
	if [[ "$NODES" == 3 ]]; then rf=3 isr=2; fi
	local voters="" bootstrap="" i
	for ((i = 1; i <= NODES; i++)); do
		voters+="${voters:+,}$i@127.0.0.1:${ports[2 * i - 1]}"
		bootstrap+="${bootstrap:+,}127.0.0.1:${ports[2 * i - 2]}"
	done
	for ((i = 1; i <= NODES; i++)); do
		write_config "$i" "${ports[2 * i - 2]}" "${ports[2 * i - 1]}" "$voters" "$rf" "$isr"
	done
	write_log4j
	local cluster_id
	cluster_id="$(random_cluster_id)"
	# One JVM per node formats its storage; they run side by side.
	local -a pids=()
	for ((i = 1; i <= NODES; i++)); do
		jvm -Xmx128m -XX:+UseSerialGC kafka.tools.StorageTool format --cluster-id "$cluster_id" \
			--config "$DIR/node-$i/server.properties" >"$DIR/node-$i/format.log" 2>&1 &
		pids+=($!)
	done
	for ((i = 1; i <= NODES; i++)); do
		wait "${pids[i - 1]}" || { cat "$DIR/node-$i/format.log" >&2; die "formatting node $i failed"; }
	done
	cat >"$DIR/cluster.env" <<EOF
NODES=$NODES
CLUSTER_ID=$cluster_id
BOOTSTRAP=$bootstrap
EOF
}

write_log4j() {
	cat >"$DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

# ---------------------------------------------------------------- run, wait

run_node() {
	load
	check_node
	need_libs
	find_java
	local nd="$DIR/node-$NODE"
	# (The pid file may already name this shell: a caller may write it.)
	if pid_alive "$NODE" && [[ "$(cat "$nd/pid")" != "$$" ]]; then
		die "node $NODE already runs (pid $(cat "$nd/pid"))"
	fi
	# The pid file holds this shell's pid, which exec hands on to the JVM.
	echo $$ >"$nd/pid"
	echo "$START_MARK node $NODE at $(date -u +%FT%TZ)" >>"$nd/server.log"
	# A small heap and the serial collector suit a shared 2-core machine;
	# jvm adds C1 only (TieredStopAtLevel=1), which also saves start-up CPU.
	# shellcheck disable=SC2086
	JVM_EXEC=1 jvm ${KAFKA_HEAP_OPTS:--Xms128m -Xmx384m} ${KAFKA_JVM_OPTS:--XX:+UseSerialGC} \
		-Dkafka.logs.dir="$nd" kafka.Kafka "$nd/server.properties" >>"$nd/server.log" 2>&1
}

# pid_alive tells whether node I's pid file names a live JVM of that node,
# or the run-node command about to become it.
pid_alive() {
	local nd="$DIR/node-$1"
	pid_runs "$nd/pid" " $nd/server.properties " " run-node --dir $DIR --node $1 "
}

# started tells whether node I's log says, since its last start, that the
# server started: in KRaft that line comes after the broker registered with
# the active controller and was unfenced, so a quorum leader exists.
started() {
	awk -v mark="$START_MARK" -v ready="$READY_LINE" \
		'index($0, mark) == 1 { s = 0 } index($0, ready) { s = 1 } END { exit !s }' \
		"$DIR/node-$1/server.log" 2>/dev/null
}

broker_port() { # node
	sed -n 's|^listeners=PLAINTEXT://127.0.0.1:\([0-9]*\),.*|\1|p' "$DIR/node-$1/server.properties"
}

wait_nodes() {
	load
	local -a nodes
	if [[ -n "$NODE" ]]; then check_node; nodes=("$NODE"); else mapfile -t nodes < <(seq 1 "$NODES"); fi
	local deadline=$((SECONDS + TIMEOUT)) i ready
	while :; do
		ready=1
		for i in "${nodes[@]}"; do
			if ! pid_alive "$i"; then
				tail -n 30 "$DIR/node-$i/server.log" >&2 || true
				die "node $i is not running (log: $DIR/node-$i/server.log)"
			fi
			if ! started "$i" || ! port_open "$(broker_port "$i")"; then ready=0; fi
		done
		[[ $ready == 1 ]] && return
		((SECONDS < deadline)) || die "nodes ${nodes[*]} not ready after ${TIMEOUT}s (logs under $DIR)"
		sleep 0.2
	done
}

# ---------------------------------------------------------------- start, stop

start_bg() { # node
	# setsid: the node outlives this shell and the terminal's Ctrl-C.
	rm -f "$DIR/node-$1/pid"
	setsid "${BASH_SOURCE[0]}" run-node --dir "$DIR" --node "$1" </dev/null >>"$DIR/node-$1/server.log" 2>&1 &
	# run-node writes the pid file just before it becomes the JVM.
	local deadline=$((SECONDS + 10))
	until pid_alive "$1"; do
		((SECONDS < deadline)) || die "node $1 did not start (log: $DIR/node-$1/server.log)"
		sleep 0.05
	done
}

stop_one() { # node signal
	local i="$1" sig="$2" pid
	pid_alive "$i" || return 0
	pid="$(cat "$DIR/node-$i/pid")"
	kill -s "$sig" "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + 15))
	while pid_alive "$i"; do
		if ((SECONDS >= deadline)) && [[ "$sig" != KILL ]]; then
			log "node $i ignored $sig for 15s: KILL"
			kill -s KILL "$pid" 2>/dev/null || true
			sig=KILL
		fi
		sleep 0.1
	done
	rm -f "$DIR/node-$i/pid"
}

up() {
	if [[ ! -f "$DIR/cluster.env" ]]; then
		[[ -n "$NODES" ]] || die "--nodes is required"
		prepare
	fi
	load
	local i
	for ((i = 1; i <= NODES; i++)); do
		pid_alive "$i" || start_bg "$i"
	done
	wait_nodes
	echo "$BOOTSTRAP"
}

down() {
	load
	local i
	# Stop them side by side: the last voters would otherwise wait for a
	# quorum that is gone before their controlled shutdown gives up.
	for ((i = 1; i <= NODES; i++)); do stop_one "$i" TERM & done
	wait
}

# ---------------------------------------------------------------- main

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
fetch) fetch ;;
prepare) parse "$@"; [[ -n "$NODES" ]] || die "--nodes is required"; prepare; load; echo "$BOOTSTRAP" ;;
run-node) parse "$@"; run_node ;;
wait) parse "$@"; wait_nodes; load; echo "$BOOTSTRAP" ;;
up) parse "$@"; up ;;
down) parse "$@"; down ;;
stop-node) parse "$@"; load; check_node
	[[ "$SIGNAL" == TERM || "$SIGNAL" == KILL ]] || die "--signal must be TERM or KILL"
	stop_one "$NODE" "$SIGNAL" ;;
start-node) parse "$@"; load; check_node
	pid_alive "$NODE" || start_bg "$NODE"
	wait_nodes ;;
bootstrap) parse "$@"; load; echo "$BOOTSTRAP" ;;
*) usage ;;
esac
