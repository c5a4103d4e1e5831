#!/usr/bin/env bash
# Runs every test: the workspace's unit, integration and doc tests, and the conformance
# check that regenerates the goldens from Java Kafka Streams and compares them. The broker
# tests (tests/runtime_broker.rs) run against a single-node Kafka broker started here and
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

# A broker this script started is stopped on exit; one that was already running is left.
if tests/broker/kafka-broker.sh status >/dev/null 2>&1; then
  started_broker=0
else
  started_broker=1
fi
trap '[ "$started_broker" = 1 ] && tests/broker/kafka-broker.sh stop || true' EXIT
tests/broker/kafka-broker.sh start
export KAFKA_BOOTSTRAP_FILE="$PWD/tests/broker/.run/bootstrap"

cargo test --workspace --no-fail-fast
tests/conformance/regen.sh --check
