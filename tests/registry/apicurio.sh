#!/usr/bin/env bash
# A Schema Registry for the Avro tests: Apicurio Registry (in-memory storage), whose
# Confluent-compatible API the tests use, on a free loopback port.
#
#   tests/registry/apicurio.sh start [OWNER_PID]
#         fetch the release with Maven (once, into ~/.m2) and unpack it into dist/ if needed,
#         start it, wait until its Confluent API answers; prints the API's base URL
#         (http://127.0.0.1:PORT/apis/ccompat/v7) and writes it to .run/url. With OWNER_PID,
#         a watchdog stops the registry once that process is gone.
#   tests/registry/apicurio.sh stop     stop it (its schemas are in memory and go with it)
#   tests/registry/apicurio.sh status   print the base URL if it is running (else exit 3)
#
# Every command is idempotent: start on a running registry only prints its URL, stop on a
# stopped one does nothing. Run state (logs, pid, URL) lives in .run/, the unpacked release
# in dist/ (both git-ignored). It needs Java 21 or later: the JDK in $APICURIO_JAVA_HOME, by
# default the Temurin 25 JDK, since the machine's default java (17) is too old.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self="$here/$(basename "${BASH_SOURCE[0]}")"
run="$here/.run"
version="3.3.3"
dist="$here/dist/apicurio-registry-$version"
artifact="io.apicurio:apicurio-registry-app:$version:tar.gz:all"
tarball="$HOME/.m2/repository/io/apicurio/apicurio-registry-app/$version/apicurio-registry-app-$version-all.tar.gz"
java_home="${APICURIO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
start_timeout="${APICURIO_START_TIMEOUT:-120}"

log() { echo "apicurio: $*" >&2; }
die() { log "$*"; exit 1; }

fetch() {
  [[ -f "$dist/quarkus-run.jar" ]] && return 0
  if [[ ! -f "$tarball" ]]; then
    command -v mvn >/dev/null || die "mvn (Maven) is required to fetch Apicurio Registry"
    log "fetching Apicurio Registry $version with Maven"
    local out
    out="$(mktemp)"
    if ! mvn -q -B -Dstyle.color=never dependency:get -Dartifact="$artifact" -Dtransitive=false \
         >"$out" 2>&1; then
      cat "$out" >&2
      rm -f "$out"
      die "Maven failed to fetch $artifact"
    fi
    rm -f "$out"
  fi
  # Unpacked beside, then moved, so that an interrupted unpack never looks complete.
  rm -rf "$dist" "$dist.partial"
  mkdir -p "$dist.partial"
  tar xzf "$tarball" -C "$dist.partial"
  mv "$dist.partial" "$dist"
}

running_pid() {
  [[ -f "$run/pid" ]] || return 1
  local pid
  pid="$(cat "$run/pid")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid must not be mistaken for the registry.
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dapicurio.run.dir=$run " || return 1
  echo "$pid"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Ready when the Confluent API lists its subjects.
wait_ready() {
  local pid="$1" url="$2" deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if curl -fsS -o /dev/null --max-time 2 "$url/subjects" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

start_watchdog() {
  local owner="$1"
  if [[ -f "$run/watchdog.pid" ]] && kill -0 "$(cat "$run/watchdog.pid")" 2>/dev/null; then
    return 0
  fi
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop' \
    watchdog "$owner" "$self" >/dev/null 2>&1 < /dev/null &
  echo "$!" > "$run/watchdog.pid"
}

start() {
  local owner="${1:-}" pid
  if pid="$(running_pid)" && [[ -s "$run/url" ]]; then
    log "already running (pid $pid)"
    [[ -n "$owner" ]] && start_watchdog "$owner"
    cat "$run/url"
    return 0
  fi
  [[ -x "$java_home/bin/java" ]] || die "no Java 21+ at $java_home (set APICURIO_JAVA_HOME)"
  command -v curl >/dev/null || die "curl is required to probe the registry"
  fetch
  rm -rf "$run"
  mkdir -p "$run"
  local port management_port started=$SECONDS
  port="$(free_port)"
  management_port="$(free_port)"
  while [[ "$management_port" == "$port" ]]; do management_port="$(free_port)"; done
  local url="http://127.0.0.1:$port/apis/ccompat/v7"
  # The run dir on the command line only marks the process as this script's (running_pid).
  (cd "$dist" && exec setsid "$java_home/bin/java" -Xms64m -Xmx512m -XX:TieredStopAtLevel=1 \
    -Dapicurio.run.dir="$run" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -Dquarkus.management.port="$management_port" \
    -Dquarkus.management.host=127.0.0.1 \
    -jar quarkus-run.jar >"$run/server.log" 2>&1 < /dev/null) &
  pid=$!
  echo "$pid" > "$run/pid"
  [[ -n "$owner" ]] && start_watchdog "$owner"
  if ! wait_ready "$pid" "$url"; then
    log "the registry did not become ready within $start_timeout s; its last log lines:"
    tail -n 30 "$run/server.log" >&2 || true
    stop_registry
    exit 1
  fi
  echo "$url" > "$run/url"
  log "Apicurio Registry $version ready at $url (pid $pid) in $((SECONDS - started)) s"
  cat "$run/url"
}

# Returns 1 when none was running.
stop_registry() {
  local pid stopped=1
  if pid="$(running_pid)"; then
    stopped=0
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "the registry did not stop within 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$run/pid" "$run/url"
  return "$stopped"
}

stop() {
  if stop_registry; then log "stopped"; fi
  if [[ -f "$run/watchdog.pid" ]]; then
    local w
    w="$(cat "$run/watchdog.pid")"
    rm -f "$run/watchdog.pid"
    # The watchdog runs this command itself once its owner is gone.
    [[ "$w" != "$$" && "$w" != "$PPID" ]] && kill "$w" 2>/dev/null || true
  fi
}

status() {
  local pid
  if pid="$(running_pid)" && [[ -s "$run/url" ]]; then
    log "running (pid $pid)"
    cat "$run/url"
  else
    log "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start [OWNER_PID]|stop|status" >&2; exit 2 ;;
esac
