#!/usr/bin/env bash
# s3.sh: a real S3-compatible server (versitygw, posix backend) on
# 127.0.0.1, for redrive's tests and for trying things by hand.
#
#   s3.sh install                      go install versitygw into .tools/bin (idempotent)
#   s3.sh up --dir DIR --port P --access KEY --secret SECRET
#                                      start in the background, wait, print the endpoint
#   s3.sh down --dir DIR               stop it by pid (TERM, then KILL); the data stays
#   s3.sh start --dir DIR              start again with the same port, keys and data
#   s3.sh stop --dir DIR               the same as down
#
# Building blocks (used by `up` and by the Go package internal/testenv, which
# starts the server as its own child so that the kernel kills it if the test
# binary dies):
#   s3.sh run --dir DIR [--port P --access KEY --secret SECRET]
#                                      exec versitygw in the foreground (log: DIR/server.log)
#   s3.sh wait --dir DIR [--timeout S] wait until it accepts connections
#
# Objects live under DIR/data (one folder a bucket). The keys are kept in
# DIR/s3.env (mode 0600) and handed to versitygw through its environment, so
# they never show in a process list.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSITYGW_VERSION="v1.8.0"

die() { echo "s3.sh: $*" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# versitygw_bin finds the server: $VERSITYGW, .tools/bin, PATH, then GOPATH/bin.
versitygw_bin() {
	local c
	for c in "${VERSITYGW:-}" "$ROOT/.tools/bin/versitygw" "$(command -v versitygw || true)" \
		"$(go env GOPATH 2>/dev/null)/bin/versitygw"; do
		[[ -n "$c" && -x "$c" ]] && { echo "$c"; return; }
	done
	die "versitygw not found: run '$0 install' (or make tools)"
}

install() {
	local bin="$ROOT/.tools/bin/versitygw"
	if [[ ! -x "$bin" ]]; then
		echo "s3.sh: installing versitygw $VERSITYGW_VERSION into $ROOT/.tools/bin" >&2
		GOBIN="$ROOT/.tools/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
	fi
	echo "$bin"
}

DIR="" PORT="" ACCESS="" SECRET="" TIMEOUT="30"
parse() { parse_options dir port access secret timeout -- "$@"; }

# configure writes DIR/s3.env from the options, or reads it when none are given.
configure() {
	if [[ -n "$PORT$ACCESS$SECRET" ]]; then
		[[ -n "$PORT" && -n "$ACCESS" && -n "$SECRET" ]] || die "--port, --access and --secret go together"
		mkdir -p "$DIR/data"
		(umask 077 && printf 'S3_PORT=%q\nS3_ACCESS=%q\nS3_SECRET=%q\n' "$PORT" "$ACCESS" "$SECRET" >"$DIR/s3.env")
	fi
	load
}

load() {
	[[ -f "$DIR/s3.env" ]] || die "$DIR holds no server: run '$0 up' first"
	# shellcheck disable=SC1091
	source "$DIR/s3.env"
}

# alive tells whether the pid file names a live versitygw serving DIR, or
# the run command about to become it.
alive() { pid_runs "$DIR/pid" " posix $DIR/data " " run --dir $DIR "; }

run() {
	configure
	local bin
	bin="$(versitygw_bin)"
	# (The pid file may already name this shell: a caller may write it.)
	if alive && [[ "$(cat "$DIR/pid")" != "$$" ]]; then die "already running (pid $(cat "$DIR/pid"))"; fi
	echo $$ >"$DIR/pid"
	echo "=== s3.sh run at $(date -u +%FT%TZ)" >>"$DIR/server.log"
	ROOT_ACCESS_KEY="$S3_ACCESS" ROOT_SECRET_KEY="$S3_SECRET" \
		exec "$bin" --port "127.0.0.1:$S3_PORT" --quiet posix "$DIR/data" >>"$DIR/server.log" 2>&1
}

wait_ready() {
	load
	local deadline=$((SECONDS + TIMEOUT))
	until port_open "$S3_PORT"; do
		if ! alive; then
			tail -n 20 "$DIR/server.log" >&2 || true
			die "versitygw is not running (log: $DIR/server.log)"
		fi
		((SECONDS < deadline)) || die "versitygw not ready after ${TIMEOUT}s"
		sleep 0.05
	done
	echo "http://127.0.0.1:$S3_PORT"
}

up() {
	configure
	if ! alive; then
		rm -f "$DIR/pid"
		setsid "${BASH_SOURCE[0]}" run --dir "$DIR" </dev/null >>"$DIR/server.log" 2>&1 &
		local deadline=$((SECONDS + 10))
		until alive; do
			((SECONDS < deadline)) || die "versitygw did not start (log: $DIR/server.log)"
			sleep 0.02
		done
	fi
	wait_ready
}

down() {
	alive || { rm -f "$DIR/pid"; return 0; }
	local pid sig=TERM deadline=$((SECONDS + 5))
	pid="$(cat "$DIR/pid")"
	kill -s TERM "$pid" 2>/dev/null || true
	while alive; do
		if ((SECONDS >= deadline)) && [[ $sig != KILL ]]; then
			kill -s KILL "$pid" 2>/dev/null || true
			sig=KILL
		fi
		sleep 0.05
	done
	rm -f "$DIR/pid"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
install) install ;;
run) parse "$@"; run ;;
wait) parse "$@"; wait_ready ;;
up | start) parse "$@"; up ;;
down | stop) parse "$@"; down ;;
*) usage ;;
esac
