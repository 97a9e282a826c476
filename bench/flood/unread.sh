#!/bin/bash
# A client that stops reading its answers, against a built server (docs/security.md, issue 19). Not a test: run by hand.
#   bench/flood/unread.sh LABEL [SECONDS] [ENV=VALUE...]   e.g. bench/flood/unread.sh defaults 40
# Starts tendril serve (ports 25222/25223/25280, juliet/pw1 and romeo/pw2) in a temporary folder, runs unread.py, prints
# the log's slow-consumer lines and the output metrics, and stops the server.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
T=${TENDRIL_DLL:-$HERE/../../src/Tendril/bin/Release/net10.0/tendril.dll}
LABEL=$1; shift
SECONDS_=${1:-40}; [ $# -gt 0 ] && shift
DIR=$(mktemp -d /tmp/tendril-unread-XXXX); cd "$DIR"
echo '{"Tendril":{"Domain":"localhost","DataDirectory":"data","C2s":{"Address":"loopback","Port":25222,"DirectTlsPort":25223},"Http":{"Address":"loopback","Port":25280,"HttpsPort":25281},"Sasl":{"AllowPlain":true}}}' > tendril.json
echo pw1 | dotnet "$T" adduser juliet@localhost --config tendril.json >/dev/null
echo pw2 | dotnet "$T" adduser romeo@localhost --config tendril.json >/dev/null
env "$@" dotnet "$T" serve --config tendril.json > server.log 2>&1 &
PID=$!
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:25280/health && break; sleep 0.2; done
echo "== $LABEL: server pid $PID, $(grep VmRSS /proc/$PID/status)"
(cd "$HERE" && python3 unread.py "$PID" "$SECONDS_")
curl -s http://127.0.0.1:25280/metrics | grep -E "^tendril_(output|outbound_queue)"
echo "alive: $(kill -0 $PID 2>/dev/null && echo yes || echo no); slow-consumer closes: $(grep -c 'slow consumer' server.log)"
kill -TERM $PID; wait $PID; echo "exit code $?"
cd /; rm -rf "$DIR"
