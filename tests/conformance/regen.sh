#!/usr/bin/env bash
# Regenerates the conformance inputs and golden outputs with Java Kafka Streams.
#
#   regen.sh          rewrite inputs/ (gen_inputs.py) and golden/ (Ref.java over every input)
#   regen.sh --check  regenerate into a temporary directory and compare with the committed
#                     inputs/ and golden/; exits 1 and names every differing file
#   regen.sh --sweep N  the long sweep: N seeds of every random shape (CI has 2), goldens
#                     from Java into a temporary directory, then the Rust conformance test
#                     against them (CONFORMANCE_DIR); nothing committed is touched
#
# Needs Java 17+, Maven (first run only, for lib/) and Python 3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

check=false
sweep=""
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  --sweep) sweep="${2:?usage: $0 --sweep N}" ;;
  *) echo "usage: $0 [--check | --sweep N]" >&2; exit 2 ;;
esac

./fetch-jars.sh

work="$(mktemp -d "${TMPDIR:-/tmp}/conformance-regen.XXXXXX")"
trap 'rm -rf "$work"' EXIT

python3 gen_inputs.py --out "$work/inputs" ${sweep:+--sweep "$sweep"}

javac -nowarn -d "$work/classes" -cp "$here/lib/*" Ref.java
inputs=("$work"/inputs/*.jsonl)
java -cp "$here/lib/*:$work/classes" Ref --all "$work/golden" "${inputs[@]}"

if [[ -n "$sweep" ]]; then
  records=$(cat "${inputs[@]}" | grep -c .)
  echo "regen.sh --sweep $sweep: ${#inputs[@]} inputs, $records records, $(ls "$work/golden" | wc -l) cases"
  cd "$here/../.."
  source tests/setup.sh
  CONFORMANCE_DIR="$work" cargo test --workspace --test conformance every_golden_case
  exit 0
fi

if ! $check; then
  rm -rf inputs golden
  cp -R "$work/inputs" inputs
  cp -R "$work/golden" golden
  echo "regen.sh: wrote inputs/ ($(ls inputs | wc -l) files) and golden/ ($(find golden -type f | wc -l) files)"
  exit 0
fi

status=0
for dir in inputs golden; do
  if [[ ! -d "$dir" ]]; then
    echo "regen.sh: $dir/ is missing" >&2
    status=1
    continue
  fi
  # Files present on either side, compared byte for byte.
  while IFS= read -r rel; do
    if [[ ! -f "$dir/$rel" ]]; then
      echo "missing:  $dir/$rel"
      status=1
    elif [[ ! -f "$work/$dir/$rel" ]]; then
      echo "extra:    $dir/$rel"
      status=1
    elif ! cmp -s "$dir/$rel" "$work/$dir/$rel"; then
      echo "differs:  $dir/$rel"
      diff -u "$dir/$rel" "$work/$dir/$rel" | head -n 20 | sed 's/^/    /' || true
      status=1
    fi
  done < <( { (cd "$dir" && find . -type f); (cd "$work/$dir" && find . -type f); } | sed 's|^\./||' | LC_ALL=C sort -u)
done

if [[ $status -ne 0 ]]; then
  echo "regen.sh --check: FAILED: the files above differ from what Kafka Streams produces; run tests/conformance/regen.sh to update them" >&2
  exit 1
fi
echo "regen.sh --check: OK ($(find inputs golden -type f | wc -l) files match)"
