#!/bin/bash
# Connection flood against a built server (docs/security.md, issue 19). Not a test: run by hand.
#   bench/flood/run.sh LABEL [FLOODPORT] [ENV=VALUE...]     e.g. bench/flood/run.sh perip 25222 Tendril__Limits__LimitLoopbackPerAddress=true
# Starts tendril serve (ports 25222/25223/25280, accounts juliet/pw1 and romeo/pw2) in a temporary folder, runs a
# bystander login, two floods of 9,500 silent connections from 127.0.0.2 and 127.0.0.3, polls the descriptors and
# /health once a second, runs the bystander again, and prints the figures.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
T=${TENDRIL_DLL:-$HERE/../../src/Tendril/bin/Release/net10.0/tendril.dll}
LABEL=$1; shift
FLOODPORT=${1:-25222}; [ $# -gt 0 ] && shift
DIR=$(mktemp -d /tmp/tendril-flood-XXXX); cd "$DIR"
echo '{"Tendril":{"Domain":"localhost","DataDirectory":"data","C2s":{"Address":"any","Port":25222,"DirectTlsPort":25223},"Http":{"Address":"any","Port":25280,"HttpsPort":25281}}}' > tendril.json
echo pw1 | dotnet "$T" adduser juliet@localhost --config tendril.json >/dev/null
echo pw2 | dotnet "$T" adduser romeo@localhost --config tendril.json >/dev/null
env "$@" dotnet "$T" serve --config tendril.json > server.log 2>&1 &
PID=$!
for i in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:25280/health && break; sleep 0.2; done
echo "server pid $PID, descriptors at start: $(ls /proc/$PID/fd | wc -l)"
python3 "$HERE/bystander.py"
python3 "$HERE/flood.py" 127.0.0.2 9500 "$FLOODPORT" 20 > flood-a.out & A=$!
python3 "$HERE/flood.py" 127.0.0.3 9500 "$FLOODPORT" 20 > flood-b.out & B=$!
MAXFD=0
for i in $(seq 1 12); do
  sleep 1
  if ! kill -0 $PID 2>/dev/null; then echo "SERVER DIED"; break; fi
  FD=$(ls /proc/$PID/fd | wc -l); [ "$FD" -gt $MAXFD ] && MAXFD=$FD
  echo "t+${i}s descriptors $FD /health $(curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}s' http://127.0.0.1:25280/health)"
done
python3 "$HERE/bystander.py"
wait $A $B
cat flood-a.out flood-b.out
echo "peak descriptors $MAXFD; alive: $(kill -0 $PID 2>/dev/null && echo yes || echo no); $(grep VmRSS /proc/$PID/status)"
curl -s http://127.0.0.1:25280/metrics | grep -E "^tendril_connections_(refused|open|unauthenticated|limit)"
echo "log lines $(wc -l < server.log), refusal lines $(grep -c 'Refused' server.log), accept-failed lines $(grep -c 'accept failed' server.log)"
kill -TERM $PID; wait $PID; echo "exit code $?"
cd /; rm -rf "$DIR"
