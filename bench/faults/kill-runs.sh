#!/usr/bin/env bash
# Runs the counted two-node SIGKILL scenario (tests/Tendril.Cluster.Tests/CountedFaultTests.cs) N times in a row and
# prints each run's tally: sent / delivered / stored offline / bounced / lost / duplicates.
#   bash bench/faults/kill-runs.sh [runs=10] [test=A_node_killed_mid_conversation_loses_no_message]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
test=${2:-A_node_killed_mid_conversation_loses_no_message}
dotnet build tests/Tendril.Cluster.Tests -c Release -v q >/dev/null
failed=0
for i in $(seq 1 "$runs"); do
  out=$(dotnet test tests/Tendril.Cluster.Tests -c Release --no-build --filter "FullyQualifiedName~CountedFaultTests.$test" \
        --logger "console;verbosity=detailed" 2>&1 || true)
  line=$(grep -m1 -oE "sent [0-9]+, delivered [0-9]+, stored offline [0-9]+, bounced [0-9]+, lost [0-9]+, duplicates [0-9]+" <<<"$out" || echo "no tally")
  if grep -q "Passed Tendril" <<<"$out"; then verdict=passed; else verdict=FAILED; failed=$((failed + 1)); fi
  echo "run $i: $line ($verdict)"
done
echo "$((runs - failed)) of $runs runs lost nothing"
[ "$failed" -eq 0 ]
