#!/usr/bin/env bash
# Chat throughput of one `tendril serve` with message archiving (XEP-0313) on, then off (docs/benchmarks.md,
# "Message archiving on the hot path"). For each mode: a temp folder with its own tendril.json (SQLite, STARTTLS,
# SCRAM-SHA-1 4096, free loopback ports), USERS accounts from `adduser --batch`, the chat scenario at max rate
# (PAIRS pairs, 16 in flight per direction, DURATION s) with tendril-load, then SIGTERM (graceful: the archive writer
# drains) and the archived row count checked against what was delivered. Prints msgs/s and e2e p50/p99 per mode.
# Usage: bench/mam-throughput.sh [DURATION] [PAIRS]   Build first:
#   dotnet publish src/Tendril -c Release -o /tmp/mam-pub && dotnet build -c Release bench/Tendril.Load
# TENDRIL=path overrides the server binary (default /tmp/mam-pub/tendril).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20}
pairs=${2:-50}
users=$((pairs * 2))
tendril=${TENDRIL:-/tmp/mam-pub/tendril}
load="dotnet bench/Tendril.Load/bin/Release/net10.0/tendril-load.dll"
[ -x "$tendril" ] || { echo "no server binary at $tendril (dotnet publish src/Tendril -c Release -o /tmp/mam-pub)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=
  [ -n "$dir" ] && rm -rf "$dir"
  dir=
}
trap cleanup EXIT

run() { # mam: true|false
  local mam=$1
  dir=$(mktemp -d /tmp/tendril-mambench.XXXXXX)
  local c2s tls
  c2s=$(free_port); tls=$(free_port)
  cat > "$dir/tendril.json" <<JSON
{ "Tendril": { "Domain": "localhost", "DataDirectory": "$dir/data",
  "C2s": { "Address": "loopback", "Port": $c2s, "DirectTlsPort": $tls, "RequireTls": true },
  "Sasl": { "ScramIterations": 4096 },
  "Mam": { "Enabled": $mam },
  "Http": { "Enabled": false } },
  "Logging": { "LogLevel": { "Default": "Warning" } } }
JSON
  seq 0 $((users - 1)) | sed 's/.*/load&@localhost password/' | "$tendril" adduser --batch --config "$dir/tendril.json" > /dev/null
  (cd "$dir" && exec "$tendril" serve --config "$dir/tendril.json" > "$dir/serve.log" 2>&1) &
  server_pid=$!
  for _ in $(seq 1 300); do (echo > "/dev/tcp/127.0.0.1/$c2s") 2>/dev/null && break; sleep 0.1; done
  local load_avg
  load_avg=$(cut -d' ' -f1 /proc/loadavg)
  $load --domain localhost --server 127.0.0.1 --port "$c2s" --mechanism SCRAM-SHA-1 --password password \
    --pid "$server_pid" --users "$users" --connect-rate 200 --scenario chat --pairs "$pairs" --rate 0 --window 16 \
    --duration "$duration" --json "$dir/chat.json" --quiet > "$dir/load.log" 2>&1 || { cat "$dir/load.log"; exit 1; }
  kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true
  server_pid=
  local rows=0
  if [ "$mam" = true ]; then
    rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from archive_messages").fetchone()[0])' "$dir/data/tendril.db")
  fi
  python3 - "$dir/chat.json" "$mam" "$rows" "$load_avg" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); r = doc["results"]; lat = r.get("endToEndLatencyMs") or {}
proc = doc.get("serverProcess") or {}
mam, rows, la = sys.argv[2], int(sys.argv[3]), sys.argv[4]
sent, delivered = r.get("sent"), r.get("deliveredAfterDrain")
line = f"MAM {'on ' if mam == 'true' else 'off'}: {r['deliveredPerSecond']:,.0f} msgs/s delivered, e2e p50 {lat.get('p50')} / p99 {lat.get('p99')} ms, " \
       f"sent {sent} in window, delivered after drain {delivered}, server CPU {proc.get('cpuSecondsScenario')} s, load avg before {la}"
if mam == "true": line += f", archived rows after SIGTERM {rows:,} (2 x delivered = {2 * (delivered or 0):,})"
print(line)
PY
  rm -rf "$dir"; dir=
}

echo "$(date -u +%FT%TZ) $(nproc) CPUs, server $tendril (tree $(git rev-parse --short HEAD)), ${duration}s, $pairs pairs, window 16, unpaced"
run true
run false
