#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, combined broker and controller) on a free
# loopback port, for the broker tests and benchmarks.
#
#   tests/broker/kafka-broker.sh start    fetch the jars (pinned in pom.xml) if needed, format
#                                         fresh storage, start, wait until it answers; prints
#                                         the bootstrap address and writes it to .run/bootstrap
#   tests/broker/kafka-broker.sh stop     stop it cleanly and delete its data
#   tests/broker/kafka-broker.sh status   print the bootstrap address if it is running
#
# Every command is idempotent: start on a running broker only prints its address, stop on a
# stopped one does nothing. Run state (data, logs, pid, address) lives in .run/ (git-ignored).
# The broker itself is run by single-node.sh, in .run/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="$here/.run"
node="$here/single-node.sh"
export BROKER_LOG_NAME=kafka-broker

log() { echo "$BROKER_LOG_NAME: $*" >&2; }
die() { log "$*"; exit 1; }

# Stops the broker if it runs (saying so) and deletes its data; logs stay for inspection.
stop() {
  "$node" stop "$run"
  rm -rf "$run/data"
}

# Always on fresh storage and fresh ports; a broker that never becomes ready gets two more
# tries.
start() {
  if "$node" status "$run" >/dev/null 2>&1; then
    "$node" start "$run"
    return 0
  fi
  stop
  local attempt status
  for attempt in 1 2 3; do
    rm -rf "$run"
    status=0
    "$node" start "$run" || status=$?
    case "$status" in
      0) return 0 ;;
      4) log "attempt $attempt: the broker did not become ready" ;;
      *) exit "$status" ;;
    esac
    stop
  done
  die "the broker did not start; see $run/server.log"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) "$node" status "$run" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
