#!/usr/bin/env bash
# bench/compare.sh — Tendril, Prosody and ejabberd side by side on this machine, on loopback only.
#
# Installs Debian's prosody and ejabberd (and gnuplot) when missing, builds Tendril and tendril-load in Release,
# configures the three servers identically (domain localhost, STARTTLS required with one self-signed ECDSA P-256
# certificate, SCRAM-SHA-1 at 4096 iterations, roster and offline storage on where the server has them, no rate
# limiting), creates the same accounts on each, then runs the same scenarios against one server at a time (the others
# are stopped, so they do not compete for the cores):
#
#   idle    $IDLE_USERS authenticated TLS sessions held $IDLE_SECONDS s — server RSS per session (fresh server)
#   logins  $LOGIN_USERS TLS+SCRAM-SHA-1 logins as fast as the server takes them ($LOGIN_PENDING in flight)
#   chat    $CHAT_PAIRS pairs, as fast as possible (window $CHAT_WINDOW per sender) — delivered msgs/s
#   chat    $FIXED_PAIRS pairs at $FIXED_RATE msgs/s per pair (fixed offered load) — end-to-end latency p50/p99
#
# Results (JSON per run, logs) go to $WORK; the table and chart go to docs/benchmarks.md (between the
# "compare:begin/end" markers; the rest of the file is kept) and docs/benchmarks.png.
# Needs root (apt-get, sysctl, the servers' system users). Takes about 15 minutes. Not part of ./test.sh.
#
# Environment: SERVERS="tendril prosody ejabberd", TENDRIL_PORT=45222, PROSODY_PORT=45322, EJABBERD_PORT=45422
# (c2s, loopback), TENDRIL_HTTP_PORT=45280, EJABBERD_HTTP_PORT=45480, WORK=/tmp/tendril-compare, ACCOUNTS=10000, IDLE_USERS=10000,
# IDLE_SECONDS=30, LOGIN_USERS=2000, LOGIN_PENDING=64, CHAT_PAIRS=50, CHAT_WINDOW=16, CHAT_SECONDS=20,
# FIXED_PAIRS=100, FIXED_RATE=20, QUIET_LOAD=1.0 / QUIET_WAIT=120 (before each run, wait up to QUIET_WAIT s for the
# 1-minute load average to fall below QUIET_LOAD; the load before/after each run is reported), NO_DOCS=1 (do not touch docs/), TENDRIL_MAX=0 (>0: afterwards, a Tendril-only
# idle run with that many sessions over several source addresses).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVERS=${SERVERS:-"tendril prosody ejabberd"}
WORK=${WORK:-/tmp/tendril-compare}
ACCOUNTS=${ACCOUNTS:-10000}
IDLE_USERS=${IDLE_USERS:-10000}
IDLE_SECONDS=${IDLE_SECONDS:-30}
LOGIN_USERS=${LOGIN_USERS:-2000}
LOGIN_PENDING=${LOGIN_PENDING:-64}
CHAT_PAIRS=${CHAT_PAIRS:-50}
CHAT_WINDOW=${CHAT_WINDOW:-16}
CHAT_SECONDS=${CHAT_SECONDS:-20}
FIXED_PAIRS=${FIXED_PAIRS:-100}
FIXED_RATE=${FIXED_RATE:-20}
TENDRIL_MAX=${TENDRIL_MAX:-0}
MECHANISM=SCRAM-SHA-1
ITERATIONS=4096
DOMAIN=localhost
PASSWORD=password
declare -A PORT=([tendril]=${TENDRIL_PORT:-45222} [prosody]=${PROSODY_PORT:-45322} [ejabberd]=${EJABBERD_PORT:-45422})
EJABBERD_HTTP_PORT=${EJABBERD_HTTP_PORT:-45480}
TENDRIL_HTTP_PORT=${TENDRIL_HTTP_PORT:-45280}
EJABBERD_NODE=tendrilbench@localhost
TD="$WORK/tendril" PD="$WORK/prosody" ED="$WORK/ejabberd"
SERVER_PID=

log() { printf '\n== %s  %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, sysctl, server users)"
for s in $SERVERS; do [ -n "${PORT[$s]:-}" ] || die "unknown server '$s' (tendril, prosody, ejabberd)"; done

# ---- packages ---------------------------------------------------------------------------------------------------
need=()
command -v prosody >/dev/null || need+=(prosody)
command -v ejabberdctl >/dev/null || need+=(ejabberd)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The packages start their own system instances: stop them (CPU, ports, the ejabberd node).
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl stop prosody ejabberd 2>/dev/null || true
else
    service prosody stop >/dev/null 2>&1 || true
    service ejabberd stop >/dev/null 2>&1 || true
fi

# ---- limits -----------------------------------------------------------------------------------------------------
# One descriptor per connection on each side; raise the soft limit to the hard one (or beyond, when allowed).
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
old_range=$(sysctl -n net.ipv4.ip_local_port_range | tr '\t' ' ')
sysctl -qw net.ipv4.ip_local_port_range="1024 65535" || true
sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 2>/dev/null || true
max_users=$((NOFILE - 200))
[ "$IDLE_USERS" -le "$max_users" ] || die "IDLE_USERS=$IDLE_USERS needs more descriptors than ulimit -n = $NOFILE allows"

PIDS_TO_STOP=()
cleanup() {
    for p in "${PIDS_TO_STOP[@]}"; do kill "$p" 2>/dev/null || true; done
    ejabberd_stop 2>/dev/null || true
    sysctl -qw net.ipv4.ip_local_port_range="$old_range" 2>/dev/null || true
}
trap cleanup EXIT

# ---- build ------------------------------------------------------------------------------------------------------
mkdir -p "$WORK"
chmod 755 "$WORK"
log "building Tendril and tendril-load (Release)"
dotnet publish "$ROOT/src/Tendril" -c Release -o "$WORK/bin/tendril" --nologo -v q >/dev/null
dotnet publish "$ROOT/bench/Tendril.Load" -c Release -o "$WORK/bin/load" --nologo -v q >/dev/null
TENDRIL="$WORK/bin/tendril/tendril"
LOAD="$WORK/bin/load/tendril-load"

# ---- certificate and accounts -----------------------------------------------------------------------------------
CERT="$WORK/cert"
mkdir -p "$CERT"
if [ ! -f "$CERT/cert.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -keyout "$CERT/key.pem" -out "$CERT/cert.pem" -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN" 2>/dev/null
fi
chmod 644 "$CERT"/*.pem

machine() {
    printf '%s, %s CPUs (nproc), %s kB MemTotal, %s' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
        "$(nproc)" "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" "$(. /etc/os-release && echo "$PRETTY_NAME")"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for s in $SERVERS; do port_free "${PORT[$s]}" || die "port ${PORT[$s]} ($s) is in use: set ${s^^}_PORT"; done
port_free "$EJABBERD_HTTP_PORT" && port_free "$TENDRIL_HTTP_PORT" || die "port $EJABBERD_HTTP_PORT or $TENDRIL_HTTP_PORT is in use"

wait_port() { # port, seconds
    for _ in $(seq 1 $(($2 * 10))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- Tendril ----------------------------------------------------------------------------------------------------
# Message archiving (XEP-0313) is off for the comparison: neither peer loads mod_mam here, and archiving writes every
# message twice to storage (Tendril archives by default; docs/benchmarks.md gives the default-configuration figures).
# The per-session rate limits (Limits:StanzasPerSecond, ReadBytesPerSecond) are off here as ejabberd's shapers are
# (shaper: none below): the max-rate run measures what the server can carry, not its abuse limits.
tendril_setup() {
    rm -rf "$TD" && mkdir -p "$TD"
    cat >"$TD/tendril.json" <<EOF
{
  "Tendril": {
    "Domain": "$DOMAIN",
    "DataDirectory": "$TD/data",
    "C2s": { "Address": "127.0.0.1", "Port": ${PORT[tendril]}, "DirectTlsEnabled": false, "RequireTls": true },
    "Tls": { "CertificatePath": "$CERT/cert.pem", "KeyPath": "$CERT/key.pem" },
    "Sasl": { "ScramIterations": $ITERATIONS },
    "Mam": { "Enabled": false },
    "Limits": { "StanzasPerSecond": 0, "ReadBytesPerSecond": 0 },
    "Http": { "Enabled": true, "Address": "loopback", "Port": $TENDRIL_HTTP_PORT }
  },
  "Logging": { "LogLevel": { "Default": "Warning" } }
}
EOF
    log "tendril: creating $ACCOUNTS accounts (adduser --batch)"
    seq 0 $((ACCOUNTS - 1)) | sed "s/.*/load&@$DOMAIN $PASSWORD/" |
        "$TENDRIL" adduser --batch --config "$TD/tendril.json" >"$TD/adduser.log"
}
tendril_start() {
    (cd "$TD" && exec "$TENDRIL" serve --config "$TD/tendril.json" >"$TD/serve.log" 2>&1) &
    SERVER_PID=$!
    PIDS_TO_STOP+=("$SERVER_PID")
    wait_port "${PORT[tendril]}" 30 || die "tendril did not start (see $TD/serve.log)"
}
tendril_stop() { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }
tendril_version() { echo "Tendril $(git -C "$ROOT" rev-parse --short HEAD) (.NET $(dotnet --list-runtimes | awk '/NETCore.App/ {v=$2} END {print v}'))"; }

# ---- Prosody ----------------------------------------------------------------------------------------------------
prosody_config() {
    cat >"$PD/prosody.cfg.lua" <<EOF
-- tendril compare.sh: c2s on 127.0.0.1:${PORT[prosody]} only, STARTTLS required, SCRAM-SHA-1 ($ITERATIONS iterations).
run_as_root = true -- started by the benchmark script; no s2s, no HTTP, loopback only
pidfile = "$PD/prosody.pid"
data_path = "$PD/data"
certificates = "$CERT"
log = { warn = "$PD/prosody.log" }
network_backend = "epoll"
c2s_ports = { ${PORT[prosody]} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
admin_socket = "$PD/admin.sock"
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
authentication = "internal_hashed"
default_iteration_count = $ITERATIONS
storage = "internal"
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "offline", "posix", "admin_shell" }
modules_disabled = { "s2s" }
ssl = { certificate = "$CERT/cert.pem", key = "$CERT/key.pem" }
VirtualHost "$DOMAIN"
EOF
}
prosody_setup() {
    rm -rf "$PD" && mkdir -p "$PD/data"
    prosody_config
    prosody_start
    log "prosody: creating $ACCOUNTS accounts (usermanager through the admin shell)"
    echo "> local um = require 'core.usermanager'; for i = 0, $((ACCOUNTS - 1)) do um.create_user('load'..i, '$PASSWORD', '$DOMAIN') end; return 'created'" |
        prosodyctl --config "$PD/prosody.cfg.lua" shell >"$PD/register.log" 2>&1
    grep -q "created" "$PD/register.log" || die "prosody: account creation failed (see $PD/register.log)"
    prosody_stop
}
prosody_start() {
    prosody --config "$PD/prosody.cfg.lua" -F >"$PD/stdout.log" 2>&1 &
    SERVER_PID=$!
    PIDS_TO_STOP+=("$SERVER_PID")
    wait_port "${PORT[prosody]}" 30 || die "prosody did not start (see $PD/stdout.log, $PD/prosody.log)"
    for _ in $(seq 1 50); do [ -S "$PD/admin.sock" ] && break; sleep 0.1; done
}
prosody_stop() { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }
prosody_version() { prosodyctl about 2>/dev/null | awk '/^Prosody/ {print; exit}'; }

# ---- ejabberd ---------------------------------------------------------------------------------------------------
# As the ejabberd user without su: su's PAM session would reset the raised descriptor limit to the default 1024.
ejabberdctl_() { HOME=/var/lib/ejabberd setpriv --reuid ejabberd --regid ejabberd --init-groups --inh-caps=-all \
    ejabberdctl --config-dir "$ED/etc" --spool "$ED/spool" --logs "$ED/logs" --node "$EJABBERD_NODE" "$@"; }
ejabberd_setup() {
    rm -rf "$ED" && mkdir -p "$ED/etc" "$ED/spool" "$ED/logs"
    cat >"$ED/etc/ejabberdctl.cfg" <<EOF
ERL_MAX_PORTS=$((NOFILE > 32000 ? NOFILE : 32000))
ERL_PROCESSES=2000000
ERL_MAX_ETS_TABLES=10000
EJABBERD_PID_PATH=$ED/ejabberd.pid
EJABBERD_BYPASS_WARNINGS=true
EOF
    cp /etc/ejabberd/inetrc "$ED/etc/inetrc"
    cat >"$ED/etc/ejabberd.yml" <<EOF
# tendril compare.sh: c2s on 127.0.0.1:${PORT[ejabberd]} only, STARTTLS required, SCRAM-SHA-1 ($ITERATIONS iterations,
# ejabberd's default count), roster and offline storage (mnesia), no traffic shaping; HTTP API on loopback for
# account creation.
loglevel: warning
hosts:
  - "$DOMAIN"
certfiles:
  - "$CERT/cert.pem"
  - "$CERT/key.pem"
listen:
  -
    port: ${PORT[ejabberd]}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    starttls_required: true
    shaper: none
    access: c2s
  -
    port: $EJABBERD_HTTP_PORT
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  c2s:
    allow: all
api_permissions:
  "loopback":
    from:
      - ejabberd_ctl
      - mod_http_api
    who:
      access:
        allow:
          - acl: loopback
    what: "*"
shaper_rules:
  max_user_sessions: 1000
  max_user_offline_messages: 100
  c2s_shaper: none
modules:
  mod_admin_extra: {}
  mod_disco: {}
  mod_http_api: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_roster: {}
EOF
    chown -R ejabberd: "$ED"
    ejabberd_start
    log "ejabberd: creating $ACCOUNTS accounts (HTTP API register, one keep-alive connection)"
    seq 0 $((ACCOUNTS - 1)) | awk -v port="$EJABBERD_HTTP_PORT" -v d="$DOMAIN" -v pw="$PASSWORD" '{
        if (NR > 1) print "next";
        print "url = \"http://127.0.0.1:" port "/api/register\"";
        print "data = \"{\\\"user\\\":\\\"load" $1 "\\\",\\\"host\\\":\\\"" d "\\\",\\\"password\\\":\\\"" pw "\\\"}\"";
        print "output = \"/dev/null\"";
        print "silent"; print "write-out = \"%{http_code}\\\\n\"" }' >"$ED/register.curl"
    curl -K "$ED/register.curl" >"$ED/register.log" 2>&1 || true
    ok=$(grep -c '^200$' "$ED/register.log" || true)
    [ "$ok" = "$ACCOUNTS" ] || die "ejabberd: $ok of $ACCOUNTS accounts created (see $ED/register.log)"
    ejabberd_stop
}
ejabberd_start() {
    rm -f "$ED/ejabberd.pid"
    ejabberdctl_ start
    ejabberdctl_ started >/dev/null 2>&1 || die "ejabberd did not start (see $ED/logs)"
    wait_port "${PORT[ejabberd]}" 60 || die "ejabberd does not listen (see $ED/logs)"
    for _ in $(seq 1 50); do [ -s "$ED/ejabberd.pid" ] && break; sleep 0.1; done
    SERVER_PID=$(cat "$ED/ejabberd.pid")
}
ejabberd_stop() {
    [ -d "$ED/etc" ] || return 0
    ejabberdctl_ stop >/dev/null 2>&1 || return 0
    ejabberdctl_ stopped >/dev/null 2>&1 || true
}
ejabberd_version() { echo "ejabberd $(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null) (Erlang/OTP $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' 2>/dev/null))"; }

# ---- the runs ---------------------------------------------------------------------------------------------------
RESULTS="$WORK/results"
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
# Other work on the machine distorts every figure: wait (bounded) for a quiet machine, and record the load average.
QUIET_LOAD=${QUIET_LOAD:-1.0}
QUIET_WAIT=${QUIET_WAIT:-120}
quiet() {
    local waited=0
    while awk -v max="$QUIET_LOAD" '{ exit !($1 > max) }' /proc/loadavg && [ "$waited" -lt "$QUIET_WAIT" ]; do
        sleep 5; waited=$((waited + 5))
    done
}
load() { # server, name, args...
    local server=$1 name=$2; shift 2
    quiet
    cut -d' ' -f1 /proc/loadavg >"$RESULTS/$server-$name.load"
    local cmd=("$LOAD" --domain "$DOMAIN" --server 127.0.0.1 --port "${PORT[$server]}" --mechanism "$MECHANISM"
               --pid "$SERVER_PID" --quiet --json "$RESULTS/$server-$name.json" "$@")
    log "$server: $name: ${cmd[*]#"$WORK/bin/load/"}"
    "${cmd[@]}" >"$RESULTS/$server-$name.txt" 2>&1 || echo "(exit code $?)" >>"$RESULTS/$server-$name.txt"
    cut -d' ' -f1 /proc/loadavg >>"$RESULTS/$server-$name.load"
    # CPU-heavy processes that are not part of this run (another build, another benchmark) while it ran.
    ps -eo pcpu=,pid=,args= --sort=-pcpu | awk -v a="$SERVER_PID" '$1 > 20 && $2 != a && $0 !~ /tendril-load/ {print}' | head -3 \
        | cut -c1-120 >>"$RESULTS/$server-$name.load"
    tail -n 40 "$RESULTS/$server-$name.txt" | grep -E 'logins|delivered|latency|RSS|errors|lost' | head -12 >&2 || true
}

date -u +%Y-%m-%dT%H:%M:%SZ >"$RESULTS/date"
machine >"$RESULTS/machine"
echo "$NOFILE" >"$RESULTS/nofile"
for server in $SERVERS; do
    "${server}_setup"
    "${server}_version" >"$RESULTS/$server.version"
    "${server}_start"
    grep 'open files' "/proc/$SERVER_PID/limits" >"$RESULTS/$server.limits" || true
    load "$server" idle --users "$IDLE_USERS" --connect-rate 500 --max-pending 200 --scenario idle --duration "$IDLE_SECONDS"
    sleep 2
    load "$server" logins --users "$LOGIN_USERS" --connect-rate 0 --max-pending "$LOGIN_PENDING" \
        --scenario idle --duration 1
    sleep 2
    load "$server" chat-max --users $((CHAT_PAIRS * 2)) --connect-rate 200 --scenario chat --pairs "$CHAT_PAIRS" \
        --rate 0 --window "$CHAT_WINDOW" --duration "$CHAT_SECONDS"
    sleep 2
    load "$server" chat-fixed --users $((FIXED_PAIRS * 2)) --connect-rate 200 --scenario chat --pairs "$FIXED_PAIRS" \
        --rate "$FIXED_RATE" --duration "$CHAT_SECONDS"
    "${server}_stop"
    sleep 2
done

if [ "$TENDRIL_MAX" -gt 0 ] && [[ " $SERVERS " == *" tendril "* ]]; then
    # Beyond what one source address can open to one port: several loopback source addresses.
    tendril_start
    load tendril "idle-$TENDRIL_MAX" --users "$TENDRIL_MAX" --accounts "$ACCOUNTS" --resource r --connect-rate 500 \
        --max-pending 200 --scenario idle --duration "$IDLE_SECONDS" --source-addresses 127.0.0.2-127.0.0.9
    tendril_stop
fi

# ---- report -----------------------------------------------------------------------------------------------------
[ "${NO_DOCS:-0}" = 1 ] && { log "results in $RESULTS (NO_DOCS=1: docs/ untouched)"; exit 0; }
log "writing docs/benchmarks.md and docs/benchmarks.png"
python3 "$ROOT/bench/compare-report.py" "$RESULTS" "$ROOT/docs/benchmarks.md" "$ROOT/docs/benchmarks.png" "$SERVERS" \
    "IDLE_USERS=$IDLE_USERS IDLE_SECONDS=$IDLE_SECONDS LOGIN_USERS=$LOGIN_USERS LOGIN_PENDING=$LOGIN_PENDING CHAT_PAIRS=$CHAT_PAIRS CHAT_WINDOW=$CHAT_WINDOW CHAT_SECONDS=$CHAT_SECONDS FIXED_PAIRS=$FIXED_PAIRS FIXED_RATE=$FIXED_RATE ACCOUNTS=$ACCOUNTS"
log "done: docs/benchmarks.md, docs/benchmarks.png; raw results in $RESULTS"
