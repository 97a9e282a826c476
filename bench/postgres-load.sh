#!/usr/bin/env bash
# Logins/s of one `tendril serve` on PostgreSQL, measured with tendril-load (docs/scaling.md, "PostgreSQL").
# Starts a throwaway PostgreSQL cluster (Debian's postgresql binaries; as root, run as the postgres user) in a temp
# folder, creates USERS accounts with `tendril adduser --batch`, serves on free loopback ports, logs everyone in with
# `tendril-load --scenario idle`, then stops and deletes everything. Usage: bench/postgres-load.sh [USERS] [sqlite]
# (the second argument runs the same on the embedded SQLite store, for comparison). Build first:
#   dotnet build -c Release src/Tendril && dotnet build -c Release bench/Tendril.Load
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-200}
provider=${2:-postgres}
tendril="dotnet src/Tendril/bin/Release/net10.0/tendril.dll"
load=bench/Tendril.Load/bin/Release/net10.0/tendril-load
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/tendril-pgload.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -f "$dir/pg/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

connection=""
if [ "$provider" = postgres ]; then
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  pgport=$(free_port)
  as_pg "$pgbin/initdb" -D "$dir/pg" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
  # Durable defaults (fsync on): the figure is for a real deployment shape, on this machine's disk.
  as_pg "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -o "-p $pgport -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
  as_pg "$pgbin/createdb" -h "$dir" -p "$pgport" -U postgres tendril
  connection="Host=127.0.0.1;Port=$pgport;Database=tendril;Username=postgres"
fi

c2s=$(free_port); tls=$(free_port)
cat > "$dir/tendril.json" <<JSON
{ "Tendril": { "Domain": "localhost", "DataDirectory": "$dir/data",
  "C2s": { "Address": "loopback", "Port": $c2s, "DirectTlsPort": $tls },
  "Http": { "Enabled": false },
  "Storage": { "Provider": "$provider", "PostgresConnectionString": "$connection" } },
  "Logging": { "LogLevel": { "Default": "Warning" } } }
JSON
start=$(date +%s.%N)
seq 0 $((users - 1)) | sed 's/.*/load&@localhost password/' | $tendril adduser --batch --config "$dir/tendril.json"
echo "adduser --batch: $users accounts in $(echo "$(date +%s.%N) - $start" | bc) s"

$tendril serve --config "$dir/tendril.json" > "$dir/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do (echo > "/dev/tcp/127.0.0.1/$c2s") 2>/dev/null && break; sleep 0.1; done
$load --domain localhost --server 127.0.0.1 --port "$c2s" --users "$users" --connect-rate 0 --max-pending 50 \
  --scenario idle --duration 3 --pid "$server_pid" --quiet
