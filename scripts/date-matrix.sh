#!/usr/bin/env bash
# Runs the integration tests (SQLite) and the date-sensitive browser tests with the clock set to dates that have broken tests before or
# could: a year end seen from China, a leap day, 春节 and a quarter end. The whole process (the
# test binary, the server the browser tests start, node) reads its time from libfaketime, which
# starts at the given instant and then runs on; Chromium keeps the real clock.
#
#   scripts/date-matrix.sh                 # every date, Rust tests (SQLite) and browser tests
#   scripts/date-matrix.sh --rust-only     # without the browser tests
#
# Needs `faketime` (Debian package faketime) and, for the browser tests, what e2e/ needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Instants in UTC (faketime reads them in the machine's zone, which CI keeps at UTC).
DATES=(
  "2026-12-31 16:30:00" # 2027-01-01 00:30 in China: a new year, quarter and month
  "2028-02-29 02:00:00" # a leap day, 10:00 in China
  "2027-02-06 02:00:00" # 春节 2027, a holiday in the working calendar
  "2027-03-31 15:30:00" # 2027-03-31 23:30 in China: the last half hour of a quarter
)
# Browser test files whose fixtures follow the clock.
E2E_FILES=(forecast.test.mjs board.test.mjs analytics.test.mjs records.test.mjs)

rust_only=
[[ ${1:-} == --rust-only ]] && rust_only=1

command -v faketime >/dev/null || {
  echo "faketime is missing (apt-get install faketime)" >&2
  exit 1
}

bin=$(cargo test -p shangji --test it --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "it" and m.get("executable"):
        print(m["executable"])')
[[ -x $bin ]] || {
  echo "could not build the integration tests" >&2
  exit 1
}

if [[ -z $rust_only ]]; then
  cargo build -q
  export SHANGJI_BIN=${SHANGJI_BIN:-$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/shangji}
fi

export TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1
failed=()
for d in "${DATES[@]}"; do
  printf '\n==== clock at %s UTC ====\n' "$d"
  # SQLite only: a PostgreSQL server would keep its own clock.
  if ! env -u SHANGJI_TEST_DATABASE_URL faketime -f "@$d" "$bin"; then
    failed+=("rust @ $d")
  fi
  if [[ -z $rust_only ]]; then
    if ! (cd e2e && faketime -f "@$d" node --test --test-concurrency=1 "${E2E_FILES[@]}"); then
      failed+=("e2e @ $d")
    fi
  fi
done

if ((${#failed[@]})); then
  printf '\nFAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "the date-sensitive tests pass at every date"
