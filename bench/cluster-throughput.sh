#!/usr/bin/env bash
# Cross-node vs single-node chat throughput (docs/scaling.md, "Cluster").
#   bench/cluster-throughput.sh [USERS] [SECONDS] [RUNS]
# Starts its own redis-server and tendril nodes on free loopback ports, sharing one SQLite file, then runs
# tendril-load's chat scenario (--rate 0: as fast as the window allows) twice per run:
#   single: every user on one node, cluster disabled;
#   cross:  two cluster nodes, every pair's second user on node 2 (--second-server): every message crosses nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-200}; SECONDS_=${2:-15}; RUNS=${3:-1}
dotnet build src/Tendril -c Release -v q -nologo >/dev/null
dotnet build bench/Tendril.Load -c Release -v q -nologo >/dev/null
TENDRIL="dotnet $PWD/src/Tendril/bin/Release/net10.0/tendril.dll"
LOAD="dotnet $PWD/bench/Tendril.Load/bin/Release/net10.0/tendril-load.dll"
work=$(mktemp -d /tmp/tendril-cluster-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.2; done; echo "port $1 never opened" >&2; exit 1; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"

config() { # NAME CLUSTER(true|false) → writes $work/NAME.json, prints the c2s port
  local c2s; c2s=$(free_port)
  cat >"$work/$1.json" <<JSON
{ "Logging": { "LogLevel": { "Default": "Warning", "Tendril.Cluster": "Information" } },
  "Tendril": { "Domain": "localhost", "DataDirectory": "$work/data-$1",
    "Storage": { "SqlitePath": "$work/shared.db" },
    "C2s": { "Address": "loopback", "Port": $c2s, "DirectTlsPort": 0, "DirectTlsEnabled": false },
    "Http": { "Enabled": false },
    "Limits": { "OutboundQueueStanzas": 100000 },
    "Cluster": { "Enabled": $2, "Redis": "127.0.0.1:$redis_port", "NodeId": "$1" } } }
JSON
  echo "$c2s"
}
start() { $TENDRIL serve --config "$work/$1.json" >"$work/$1.log" 2>&1 & pids+=($!); echo $!; }

p_single=$(config single false); p_n1=$(config n1 true); p_n2=$(config n2 true)
seq 0 $((USERS - 1)) | sed 's/.*/load&@localhost password/' | $TENDRIL adduser --batch --config "$work/single.json" >/dev/null

run() { # LABEL ARGS…
  local label=$1; shift
  $LOAD --domain localhost --server 127.0.0.1 --users "$USERS" --connect-rate 0 --scenario chat --rate 0 --window 16 \
        --duration "$SECONDS_" --quiet --json "$work/$label.json" "$@" >"$work/$label.txt"
  python3 -c "import json,sys;r=json.load(open(sys.argv[1]));s=r.get('results',r);print(sys.argv[2], s.get('deliveredPerSecond'), 'msg/s delivered')" "$work/$label.json" "$label" 2>/dev/null \
    || grep -E "delivered|e2e" "$work/$label.txt"
}

for i in $(seq 1 "$RUNS"); do
  pid=$(start single); wait_port "$p_single"
  run "single-$i" --port "$p_single" --pid "$pid"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  a=$(start n1); b=$(start n2); wait_port "$p_n1"; wait_port "$p_n2"
  run "cross-$i" --port "$p_n1" --second-server "127.0.0.1:$p_n2"
  redis-cli -p "$redis_port" info commandstats | grep -E "cmdstat_(evalsha|publish|hgetall|scan|set|exists)" | sed 's/^/  redis /' || true
  redis-cli -p "$redis_port" config resetstat >/dev/null 2>&1 || true
  kill -TERM "$a" "$b"; wait "$a" "$b" 2>/dev/null || true
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
