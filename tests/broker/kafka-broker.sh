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
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="$here/.run"
lib="$here/lib"
pid_file="$run/pid"
bootstrap_file="$run/bootstrap"
start_timeout="${KAFKA_BROKER_START_TIMEOUT:-120}"

log() { echo "kafka-broker: $*" >&2; }
die() { log "$*"; exit 1; }

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml"; }

fetch_jars() {
  local stamp="$lib/.pom.sha256" want
  want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$lib/kafka_2.13-$(kafka_version).jar" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn (Maven) is required to fetch the Kafka jars"
  command -v java >/dev/null || die "java (17 or later) is required to run the broker"
  log "fetching Apache Kafka $(kafka_version) jars into $lib"
  rm -rf "$lib"
  local out
  out="$(mktemp)"
  if ! mvn -q -B -Dstyle.color=never -f "$here/pom.xml" \
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

java_run() {
  java -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$run" \
    -Dkafka.log.name=tools -cp "$lib/*" "$@"
}

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: it must still be our broker.
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $run/server.properties" || return 1
  echo "$pid"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local port
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return 0
  fi
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    port_in_use "$port" || { echo "$port"; return 0; }
  done
  die "no free port found"
}

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
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.classic.min.session.timeout.ms=1000
log.segment.bytes=16777216
log.retention.check.interval.ms=60000
CONF
}

wait_ready() {
  local pid="$1" port="$2" deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if grep -q "Kafka Server started" "$run/server.log" 2>/dev/null && port_in_use "$port"; then
      # The broker says it started; make sure it answers a metadata round trip.
      if java_run org.apache.kafka.tools.BrokerApiVersionsCommand \
           --bootstrap-server "127.0.0.1:$port" >"$run/probe.out" 2>&1; then
        return 0
      fi
    fi
    sleep 0.5
  done
  return 1
}

start() {
  local pid
  if pid="$(running_pid)" && [[ -s "$bootstrap_file" ]]; then
    log "already running (pid $pid)"
    cat "$bootstrap_file"
    return 0
  fi
  stop_quietly
  command -v java >/dev/null || die "java (17 or later) is required to run the broker"
  fetch_jars
  local started=$SECONDS attempt port controller_port cluster_id tool
  tool="$(storage_tool_class)"
  for attempt in 1 2 3; do
    rm -rf "$run"
    mkdir -p "$run"
    port="$(free_port)"
    controller_port="$(free_port)"
    while [[ "$controller_port" == "$port" ]]; do controller_port="$(free_port)"; done
    write_config "$port" "$controller_port"
    cluster_id="$(java_run "$tool" random-uuid | tail -n1)"
    java_run "$tool" format -t "$cluster_id" -c "$run/server.properties" >"$run/format.out" 2>&1 \
      || { cat "$run/format.out" >&2; die "formatting the storage failed"; }
    setsid java -Xms256m -Xmx1g -XX:+UseG1GC -XX:TieredStopAtLevel=1 \
      -Dlog4j2.configurationFile="$here/log4j2.properties" -Dkafka.logs.dir="$run" \
      -cp "$lib/*" kafka.Kafka "$run/server.properties" \
      >"$run/server.out" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$pid_file"
    if wait_ready "$pid" "$port"; then
      echo "127.0.0.1:$port" > "$bootstrap_file"
      log "Kafka $(kafka_version) ready on 127.0.0.1:$port (pid $pid) in $((SECONDS - started)) s"
      cat "$bootstrap_file"
      return 0
    fi
    log "attempt $attempt: the broker did not become ready; its last log lines:"
    tail -n 20 "$run/server.log" "$run/server.out" >&2 2>/dev/null || true
    stop_quietly
  done
  die "the broker did not start; see $run/server.log"
}

stop_quietly() {
  local pid
  if pid="$(running_pid)"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "the broker did not stop within 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pid_file" "$bootstrap_file"
  rm -rf "$run/data"
}

stop() {
  if running_pid >/dev/null; then
    stop_quietly
    log "stopped"
  else
    stop_quietly
  fi
}

status() {
  local pid
  if pid="$(running_pid)" && [[ -s "$bootstrap_file" ]]; then
    log "running (pid $pid)"
    cat "$bootstrap_file"
  else
    log "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
