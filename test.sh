#!/usr/bin/env bash
# Runs the whole Tendril test suite. Installs what the tests need when it is missing:
#   - Debian's python3-slixmpp and go-sendxmpp (third-party XMPP clients of the interop tests)
#   - Debian's postgresql (the tests start throwaway clusters of their own with its initdb/pg_ctl)
#   - Debian's redis-server (started by the Redis client and cluster tests; brings redis-cli)
#   - Debian's chromium and Node.js, and the npm packages playwright-core (the browser tests) and
#     @xmpp/client (the WebSocket interop test)
#   - the npm package converse.js in src/Tendril/demo (the demo web client; the build copies it into the output)
#   - Debian's afl++ and the dotnet tool SharpFuzz.CommandLine (the bounded fuzz run of the XML parser, tests/Tendril.Xml.Fuzz)
#   - the .NET packages (dotnet restore)
# Prints the totals as the last line: "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
/usr/bin/python3 -c 'import slixmpp' 2>/dev/null || missing+=(python3-slixmpp)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/go-sendxmpp ] || missing+=(go-sendxmpp)
[ -x /usr/bin/redis-server ] && [ -x /usr/bin/redis-cli ] || missing+=(redis-server)
command -v afl-fuzz >/dev/null 2>&1 || missing+=(afl++)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

browser_tests=tests/Tendril.Tests/Browser
if [ ! -d "$browser_tests/node_modules/playwright-core" ] || [ ! -d "$browser_tests/node_modules/@xmpp/client" ]; then
  echo "Installing npm packages in $browser_tests"
  # playwright-core never downloads browsers; the tests use Debian's /usr/bin/chromium.
  (cd "$browser_tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

demo=src/Tendril/demo
if [ ! -f "$demo/node_modules/converse.js/dist/converse.min.js" ]; then
  echo "Installing npm packages in $demo"
  # --ignore-scripts: only the prebuilt dist/ files are used.
  (cd "$demo" && npm ci --no-audit --no-fund --ignore-scripts)
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet restore Tendril.slnx
dotnet build Tendril.slnx -c Release --no-restore

results="artifacts/test-results"
rm -rf "$results"
status=0
dotnet test Tendril.slnx -c Release --no-build --logger "trx" --results-directory "$results" "$@" || status=$?

# A bounded coverage-guided fuzz run of the XML stream parser (AFL++ with SharpFuzz; issue 19), counted as one test.
# Only on a full run (no test filter given); FUZZ_SECONDS=0 skips it.
fuzz=none
if [ $# -eq 0 ] && [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
  if bash tests/Tendril.Xml.Fuzz/fuzz.sh "${FUZZ_SECONDS:-60}"; then fuzz=passed; else fuzz=failed; status=1; fi
fi

# Totals from the TRX files (dotnet test's own summary is per assembly).
python3 - "$results" "$fuzz" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
if sys.argv[2] == "passed": passed += 1
if sys.argv[2] == "failed": failed += 1
for path in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    c = ET.parse(path).getroot().find(".//{*}Counters")
    if c is None: continue
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    skipped += int(c.get("notExecuted", 0))
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
