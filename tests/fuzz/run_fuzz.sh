#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded number of iterations over a copy of its seed
# corpus (the seeds in the repository are never modified). Fails on any crash, leak,
# sanitizer report or timeout, and prints how many iterations ran.
set -euo pipefail
exe=$1 corpus=$2 runs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
log="$work.log"
set +e
"$exe" -runs="$runs" -seed=1 -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/" "$work" >"$log" 2>&1
rc=$?
set -e
tail -n 5 "$log"
done_line=$(grep -E '^Done [0-9]+ runs' "$log" || true)
rm -f "$log"
if [ $rc -ne 0 ] || [ -z "$done_line" ]; then
  echo "fuzz: $(basename "$exe") FAILED (exit $rc)"
  exit 1
fi
echo "fuzz: $(basename "$exe"): $done_line"
