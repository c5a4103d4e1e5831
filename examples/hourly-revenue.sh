#!/usr/bin/env bash
# Builds and runs the hourly-revenue example on the embedded Kafka cluster (pass --help for
# options). The first build compiles RocksDB and librdkafka from source.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh
exec cargo run --release -q -p streams-examples --bin hourly-revenue -- "$@"
