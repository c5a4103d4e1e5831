#!/usr/bin/env bash
# Puts the Kafka Streams reference jars (versions pinned in pom.xml) into lib/.
# Idempotent: does nothing when lib/ already holds the jars for the current pom.xml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

stamp="lib/.pom.sha256"
want="$(sha256sum pom.xml | cut -d' ' -f1)"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' pom.xml)"

have_jars() {
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || return 1
  local jar
  for jar in "kafka-streams-$kafka_version.jar" "kafka-streams-test-utils-$kafka_version.jar" \
             "kafka-clients-$kafka_version.jar"; do
    [[ -f "lib/$jar" ]] || return 1
  done
  compgen -G 'lib/slf4j-nop-*.jar' >/dev/null && compgen -G 'lib/jackson-databind-*.jar' >/dev/null
}

if have_jars; then
  exit 0
fi

command -v mvn >/dev/null || { echo "fetch-jars.sh: mvn (Maven) is required" >&2; exit 1; }

echo "fetch-jars.sh: fetching Kafka Streams $kafka_version jars into $here/lib" >&2
rm -rf lib
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! mvn -q -B -Dstyle.color=never -f pom.xml \
     org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
     -DoutputDirectory="$here/lib" -DincludeScope=runtime >"$log" 2>&1; then
  cat "$log" >&2
  echo "fetch-jars.sh: Maven failed" >&2
  exit 1
fi
echo "$want" > "$stamp"
have_jars || { echo "fetch-jars.sh: expected jars missing from lib/ after download" >&2; exit 1; }
