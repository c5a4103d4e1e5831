#!/usr/bin/env bash
# Installs what building and testing need on a fresh machine, and nothing that is already there:
# libclang (RocksDB's bindings are generated with bindgen) and a C/C++ toolchain for
# librdkafka and RocksDB, openssl for test certificates, and the Python packages of the Avro
# cross-check. Sourced by
# tests/run.sh and examples/hourly-revenue.sh.
set -euo pipefail

need=()
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
# The registry TLS tests (tests/avro_tls.rs) make their certificates with openssl.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Confluent's Python serializer (confluent-kafka with its Avro extra), which
# tests/avro_confluent.rs checks wire compatibility against.
if ! python3 -c 'import confluent_kafka.schema_registry.avro, fastavro' >/dev/null 2>&1; then
  echo "installing: confluent-kafka[avro] (pip)"
  python3 -m pip install -q --disable-pip-version-check 'confluent-kafka[avro]'
fi

# One target directory for every build, so the RocksDB and librdkafka builds (the slow part,
# about half an hour on two cores) are done once and reused.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streams-target}"
mkdir -p "$CARGO_TARGET_DIR"
