#!/usr/bin/env bash
# Runs Baton's whole test suite (warnings are errors through Directory.Build.props) on a fresh Debian machine with the .NET SDK: builds everything and runs every test
# project, installing or starting whatever the tests need first. Prints a closing line "N passed, N failed, N skipped"
# and exits non-zero if anything failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
configuration="${CONFIGURATION:-Release}"
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "The .NET SDK is required (dotnet on PATH); see global.json for the version." >&2
  exit 1
fi

# The PostgreSQL tests start throwaway servers of their own with initdb/pg_ctl (as the postgres user when run as
# root), unless BATON_TEST_POSTGRES names an existing server. Make sure the server binaries are there.
if [ -z "${BATON_TEST_POSTGRES:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== Installing the PostgreSQL server (for the tests' throwaway servers)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi
if [ -z "${BATON_TEST_POSTGRES:-}" ] && [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
fi

# The dashboard's tests drive Debian's Chromium through Playwright (BATON_CHROMIUM names another executable).
if [ -z "${BATON_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "== Installing Chromium (for the dashboard's browser tests)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

echo "== Building ($configuration)"
dotnet build Baton.slnx -c "$configuration" -nologo -clp:NoSummary

echo "== Testing"
set +e
dotnet test Baton.slnx -c "$configuration" --no-build -nologo \
  --blame-hang-timeout 10m \
  --results-directory "$results" \
  --logger "console;verbosity=normal" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

# One closing line over every test assembly, summed from the runner's per-assembly totals.
awk '
  /^ +Passed: [0-9]+$/  { p += $2 }
  /^ +Failed: [0-9]+$/  { f += $2 }
  /^ +Skipped: [0-9]+$/ { s += $2 }
  END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$results/console.log"
echo "Screenshots of the dashboard's pages: ${BATON_SCREENSHOTS:-$root/artifacts/screenshots}"
exit "$status"
