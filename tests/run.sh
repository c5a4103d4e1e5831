#!/usr/bin/env bash
# Runs every test: the workspace's unit, integration and doc tests, and the conformance
# check that regenerates the goldens from Java Kafka Streams and compares them.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

cargo test --workspace --no-fail-fast
tests/conformance/regen.sh --check
