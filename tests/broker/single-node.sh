#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, combined broker and controller) living in a run
# directory of its own, on free loopback ports, with the jars pinned in pom.xml (fetched into
# lib/ on first use). kafka-broker.sh runs the shared test broker with it; the fault-injection
# suite runs a private one that it freezes and restarts.
#
#   single-node.sh start DIR [OWNER_PID]
#         first start: format fresh storage in DIR, pick free ports; later starts: the same
#         data and the same ports, so clients reconnect to the address they know. Waits until
#         the broker answers, prints the bootstrap address (also in DIR/bootstrap). With
#         OWNER_PID, a watchdog destroys the broker once that process is gone, so a test
#         binary that dies cannot leave a broker behind. Exits with 4 when the broker was
#         launched but never became ready (worth another try), 1 on any other failure.
#   single-node.sh stop DIR      stop it cleanly (SIGTERM), keeping its data
#   single-node.sh kill DIR      SIGKILL it, keeping its data
#   single-node.sh pid DIR       print the broker's pid (for SIGSTOP/SIGCONT)
#   single-node.sh status DIR    print the bootstrap address if it is running (else exit 3)
#   single-node.sh destroy DIR   stop it and delete DIR
#
# Diagnostics go to stderr, prefixed with $BROKER_LOG_NAME (default "broker").
# The broker accepts session timeouts down to 1 s, for both group protocols, so that tests
# can have a dead member leave its group within seconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
self="$here/$(basename "${BASH_SOURCE[0]}")"
lib="$here/lib"
pom="$here/pom.xml"
log4j="$here/log4j2.properties"
start_timeout="${KAFKA_BROKER_START_TIMEOUT:-120}"

log() { echo "${BROKER_LOG_NAME:-broker}: $*" >&2; }
die() { log "$*"; exit 1; }

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom"; }

fetch_jars() {
  local stamp="$lib/.pom.sha256" want
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$lib/kafka_2.13-$(kafka_version).jar" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn (Maven) is required to fetch the Kafka jars"
  log "fetching Apache Kafka $(kafka_version) jars into $lib"
  rm -rf "$lib"
  local out
  out="$(mktemp)"
  if ! mvn -q -B -Dstyle.color=never -f "$pom" \
       org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
       -DoutputDirectory="$lib" -DincludeScope=runtime >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    die "Maven failed to fetch the jars"
  fi
  rm -f "$out"
  echo "$want" > "$stamp"
}

# The storage tool moved between Kafka versions; use whichever class the jars have.
storage_tool_class() {
  local cls jar
  for cls in org/apache/kafka/tools/StorageTool kafka/tools/StorageTool; do
    for jar in "$lib"/kafka*.jar; do
      if unzip -l "$jar" "$cls.class" >/dev/null 2>&1; then
        echo "${cls//\//.}"
        return 0
      fi
    done
  done
  die "no StorageTool class in $lib"
}

java_tool() {
  java -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$log4j" -Dkafka.logs.dir="$run" \
    -Dkafka.log.name=tools -cp "$lib/*" "$@"
}

running_pid() {
  [[ -f "$run/pid" ]] || return 1
  local pid
  pid="$(cat "$run/pid")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid must not be mistaken for the broker.
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $run/server.properties" || return 1
  echo "$pid"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return 0
  fi
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" || { echo "$port"; return 0; }
  done
  die "no free port found"
}

# group.min.session.timeout.ms bounds the classic protocol (which the runtime uses),
# group.consumer.min.session.timeout.ms the consumer protocol of KIP-848.
write_config() {
  local port="$1" controller_port="$2"
  cat > "$run/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$run/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Transactions of killed instances are aborted soon after they time out, not up to 10 s later.
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.min.session.timeout.ms=1000
log.segment.bytes=16777216
log.retention.check.interval.ms=60000
CONF
  echo "$port" > "$run/port"
}

# "Kafka Server started" must be new: a restart appends to the log of the previous run.
wait_ready() {
  local pid="$1" port="$2" from="$3" deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if tail -c "+$((from + 1))" "$run/server.log" 2>/dev/null | grep -q "Kafka Server started" \
         && port_in_use "$port"; then
      # The broker says it started; make sure it answers a metadata round trip.
      if java_tool org.apache.kafka.tools.BrokerApiVersionsCommand \
           --bootstrap-server "127.0.0.1:$port" >"$run/probe.out" 2>&1; then
        return 0
      fi
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
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" destroy "$3"' \
    watchdog "$owner" "$self" "$run" >/dev/null 2>&1 < /dev/null &
  echo "$!" > "$run/watchdog.pid"
}

start() {
  local owner="${1:-}" pid
  if pid="$(running_pid)" && [[ -s "$run/bootstrap" ]]; then
    log "already running (pid $pid)"
    [[ -n "$owner" ]] && start_watchdog "$owner"
    cat "$run/bootstrap"
    return 0
  fi
  command -v java >/dev/null || die "java (17 or later) is required to run the broker"
  fetch_jars
  local port controller_port started=$SECONDS
  if [[ -f "$run/server.properties" && -f "$run/port" && -d "$run/data" ]]; then
    port="$(cat "$run/port")"
    port_in_use "$port" && die "port $port of the stopped broker in $run is taken by another process"
  else
    mkdir -p "$run"
    port="$(free_port)"
    controller_port="$(free_port)"
    while [[ "$controller_port" == "$port" ]]; do controller_port="$(free_port)"; done
    write_config "$port" "$controller_port"
    local tool cluster_id
    tool="$(storage_tool_class)"
    cluster_id="$(java_tool "$tool" random-uuid | tail -n1)"
    java_tool "$tool" format -t "$cluster_id" -c "$run/server.properties" >"$run/format.out" 2>&1 \
      || { cat "$run/format.out" >&2; die "formatting the storage failed"; }
  fi
  local from=0
  [[ -f "$run/server.log" ]] && from="$(stat -c %s "$run/server.log")"
  setsid java -Xms256m -Xmx1g -XX:+UseG1GC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$log4j" -Dkafka.logs.dir="$run" \
    -cp "$lib/*" kafka.Kafka "$run/server.properties" \
    >>"$run/server.out" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$run/pid"
  [[ -n "$owner" ]] && start_watchdog "$owner"
  if ! wait_ready "$pid" "$port" "$from"; then
    log "the broker did not become ready; its last log lines:"
    tail -n 30 "$run/server.log" "$run/server.out" >&2 2>/dev/null || true
    stop_broker KILL || true
    log "the broker in $run did not start"
    exit 4
  fi
  echo "127.0.0.1:$port" > "$run/bootstrap"
  log "Kafka $(kafka_version) ready on 127.0.0.1:$port (pid $pid) in $((SECONDS - started)) s"
  cat "$run/bootstrap"
}

# A frozen broker only acts on SIGTERM once continued. Returns 1 when none was running.
stop_broker() {
  local signal="$1" pid stopped=1
  if pid="$(running_pid)"; then
    stopped=0
    kill -CONT "$pid" 2>/dev/null || true
    kill "-$signal" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "the broker did not stop within 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "$run/pid" "$run/bootstrap"
  return "$stopped"
}

status() {
  local pid
  if pid="$(running_pid)" && [[ -s "$run/bootstrap" ]]; then
    log "running (pid $pid)"
    cat "$run/bootstrap"
  else
    log "not running"
    return 3
  fi
}

destroy() {
  stop_broker TERM || true
  if [[ -f "$run/watchdog.pid" ]]; then
    local w
    w="$(cat "$run/watchdog.pid")"
    # The watchdog runs this command itself once its owner is gone.
    [[ "$w" != "$$" && "$w" != "$PPID" ]] && kill "$w" 2>/dev/null || true
  fi
  rm -rf "$run"
}

usage() { echo "usage: $0 start|stop|kill|pid|status|destroy DIR [OWNER_PID]" >&2; exit 2; }

cmd="${1:-}"
[[ -n "${2:-}" ]] || usage
mkdir -p "$(dirname "$2")"
run="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
case "$cmd" in
  start) start "${3:-}" ;;
  stop) if stop_broker TERM; then log "stopped"; fi ;;
  kill) if stop_broker KILL; then log "killed"; fi ;;
  pid) running_pid || { log "not running"; exit 3; } ;;
  status) status ;;
  destroy) destroy ;;
  *) usage ;;
esac
