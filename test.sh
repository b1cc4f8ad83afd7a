#!/usr/bin/env bash
# All of shangji's tests, from the repository root:
#   1. cargo test on SQLite (in memory);
#   2. cargo test again on PostgreSQL, when SHANGJI_TEST_DATABASE_URL is set or a server
#      answers at 127.0.0.1:5432 (then postgres://postgres@127.0.0.1:5432/test);
#   3. cargo build, a check that the embedded front-end libraries are exactly npm's (see
#      scripts/vendor-assets.sh), then the browser tests in e2e/ (headless Debian Chromium at
#      /usr/bin/chromium; `npm ci` first when e2e/node_modules is missing).
# Exits non-zero on the first failure. With CI=true a missing Chromium or npm is a failure
# rather than a skipped step.
set -euo pipefail
cd "$(dirname "$0")"

DEFAULT_PG_URL=postgres://postgres@127.0.0.1:5432/test
CHROMIUM=${CHROMIUM_BIN:-/usr/bin/chromium}
started=$SECONDS
section_started=$SECONDS
section_name=
summary=()

end_section() {
  if [[ -n $section_name ]]; then
    local took=$((SECONDS - section_started))
    summary+=("$(printf '  %-36s %5ss' "$section_name" "$took")")
    printf -- '---- %s: %ss\n' "$section_name" "$took"
  fi
  section_name=
}

section() {
  end_section
  section_name=$1
  section_started=$SECONDS
  printf '\n==== %s ====\n' "$1"
}

finish() {
  local rc=$?
  end_section
  printf '\n==== test.sh summary ====\n'
  ((${#summary[@]})) && printf '%s\n' "${summary[@]}"
  if ((rc == 0)); then
    printf '  %-36s %5ss\n' "all passed" "$((SECONDS - started))"
  else
    printf '  %-36s %5ss\n' "FAILED (exit $rc)" "$((SECONDS - started))"
  fi
}
trap finish EXIT

# `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for printing.
redact() { sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$1"; }

pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432 -t 3
  else
    timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null
  fi
}

# Each PostgreSQL test works in its own schema (t_… or s_…); drop those left by earlier runs.
drop_test_schemas() {
  command -v psql >/dev/null 2>&1 || return 0
  psql "$1" -Atqc "select format('DROP SCHEMA %I CASCADE;', nspname) from pg_namespace where nspname ~ '^[ts]_[0-9]+_[0-9]+$'" |
    PGOPTIONS="-c client_min_messages=warning" psql "$1" -q >/dev/null
}

# The database of a PostgreSQL URL may be missing on a new server: create it (through the
# server's `postgres` database, with the URL's user and host) unless it exists.
create_database() {
  command -v psql >/dev/null 2>&1 || return 0
  local url=${1%%\?*}
  local name=${url##*/}
  local server=${url%/*}
  if [[ -z $name || $name == "$url" ]]; then return 0; fi
  if ! psql "$server/postgres" -Atqc "select 1 from pg_database where datname = '$name'" | grep -q 1; then
    echo "creating database $name"
    psql "$server/postgres" -qc "CREATE DATABASE \"$name\""
  fi
}

section "cargo test --workspace (SQLite)"
# This pass is SQLite whatever the environment says: the PostgreSQL URL is for the next pass.
env -u SHANGJI_TEST_DATABASE_URL cargo test --workspace

if [[ -n ${SHANGJI_TEST_DATABASE_URL:-} ]] || pg_answers; then
  pg_url=${SHANGJI_TEST_DATABASE_URL:-$DEFAULT_PG_URL}
  section "cargo test --workspace (PostgreSQL)"
  echo "SHANGJI_TEST_DATABASE_URL=$(redact "$pg_url")"
  create_database "$pg_url"
  drop_test_schemas "$pg_url"
  SHANGJI_TEST_DATABASE_URL=$pg_url cargo test --workspace
  drop_test_schemas "$pg_url"
else
  section "cargo test (PostgreSQL): SKIPPED"
  echo "nothing answers at 127.0.0.1:5432 and SHANGJI_TEST_DATABASE_URL is not set"
fi

section "cargo build"
cargo build
export SHANGJI_BIN=${SHANGJI_BIN:-$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/shangji}

missing=
[[ -x $CHROMIUM ]] || missing="$CHROMIUM (apt-get install chromium)"
command -v npm >/dev/null 2>&1 || missing="npm (Node.js 20)"
if [[ -n $missing ]]; then
  section "e2e: SKIPPED"
  echo "missing: $missing"
  if [[ ${CI:-} == true ]]; then
    echo "CI=true: the browser tests must run" >&2
    exit 1
  fi
else
  if [[ ! -d e2e/node_modules ]]; then
    section "npm ci (e2e)"
    (cd e2e && npm ci --no-audit --no-fund)
  fi
  section "front-end libraries match npm"
  scripts/vendor-assets.sh --check
  section "e2e: npm test (headless Chromium)"
  echo "SHANGJI_BIN=$SHANGJI_BIN CHROMIUM_BIN=$CHROMIUM"
  export CHROMIUM_BIN=$CHROMIUM
  (cd e2e && npm test)
fi
