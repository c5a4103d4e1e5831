#!/usr/bin/env bash
# Runs every test: the workspace's unit, integration and doc tests, and the conformance
# check that regenerates the goldens from Java Kafka Streams and compares them. The broker
# tests (tests/runtime_broker.rs) run against a single-node Kafka broker, and the Avro
# registry tests (tests/avro_registry.rs, tests/avro_confluent.rs) against a Schema Registry
# (Apicurio), both started here and stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

# A broker or registry this script started is stopped on exit; one that was already running
# is left.
started_broker=1
tests/broker/kafka-broker.sh status >/dev/null 2>&1 && started_broker=0
started_registry=1
tests/registry/apicurio.sh status >/dev/null 2>&1 && started_registry=0
cleanup() {
  [ "$started_broker" = 1 ] && tests/broker/kafka-broker.sh stop || true
  [ "$started_registry" = 1 ] && tests/registry/apicurio.sh stop || true
}
trap cleanup EXIT
tests/broker/kafka-broker.sh start
export KAFKA_BOOTSTRAP_FILE="$PWD/tests/broker/.run/bootstrap"
tests/registry/apicurio.sh start
export SCHEMA_REGISTRY_URL_FILE="$PWD/tests/registry/.run/url"

cargo test --workspace --no-fail-fast
tests/conformance/regen.sh --check
