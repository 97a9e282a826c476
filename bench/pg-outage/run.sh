#!/usr/bin/env bash
# The 20 s PostgreSQL outage of issue 18, counted (docs/reliability.md): the suite's counted outage test
# (tests/Tendril.Server.Tests/Postgres/PostgresArchiveOutageTests.cs) with a longer outage. It starts its own
# PostgreSQL (pg_ctl, as the Postgres fixture does), stops it for TENDRIL_PG_OUTAGE_SECONDS while juliet sends a
# numbered message every 100 ms to romeo (online) and nurse (offline), starts it again, and prints
# sent / delivered / stored / bounced / lost and the archive counts. Usage: bench/pg-outage/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
export TENDRIL_PG_OUTAGE_SECONDS="${1:-20}"
dotnet build tests/Tendril.Server.Tests -c Release -v q -nologo >/dev/null
dotnet test tests/Tendril.Server.Tests -c Release --no-build \
  --filter "FullyQualifiedName~PostgresArchiveOutageTests" --logger "console;verbosity=detailed" 2>&1 \
  | grep -E "^ (outage|romeo|nurse|archive|log|  with)|Test Run|Failed|Passed!" | sort -u
