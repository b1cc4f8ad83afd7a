#!/usr/bin/env bash
# Runs the integration tests (SQLite) and the date-sensitive browser tests with the clock set to dates that have broken tests before or
# could: a year end seen from China, a leap day, 春节 and a quarter end. Every process (the
# test binary, the server and command-line calls the tests start, node) reads its time from
# libfaketime: one offset from the real clock, shared by all of them, so the faked clock runs
# on; Chromium keeps the real clock (no page script reads it).
#
#   scripts/date-matrix.sh                 # every date, Rust tests (SQLite) and browser tests
#   scripts/date-matrix.sh --rust-only     # without the browser tests
#
# Needs `faketime` (Debian package faketime) and, for the browser tests, what e2e/ needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Instants in China time.
DATES=(
  "2027-01-01 00:30:00 +0800" # a new year, quarter and month
  "2028-02-29 10:00:00 +0800" # a leap day
  "2027-02-06 10:00:00 +0800" # 春节 2027
  "2027-03-31 23:30:00 +0800" # the last half hour of a quarter
)
# Browser test files whose fixtures follow the clock.
E2E_FILES=(forecast.test.mjs board.test.mjs analytics.test.mjs horizon.test.mjs review.test.mjs
  records.test.mjs automation.test.mjs)

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

export FAKETIME_DONT_FAKE_MONOTONIC=1
failed=()
for d in "${DATES[@]}"; do
  printf '\n==== clock at %s ====\n' "$d"
  # SQLite only: a PostgreSQL server would keep its own clock.
  if ! env -u SHANGJI_TEST_DATABASE_URL faketime "$d" "$bin"; then
    failed+=("rust @ $d")
  fi
  if [[ -z $rust_only ]]; then
    if ! (cd e2e && faketime "$d" node --test --test-concurrency=1 "${E2E_FILES[@]}"); then
      failed+=("e2e @ $d")
    fi
  fi
done

if ((${#failed[@]})); then
  printf '\nFAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "the date-sensitive tests pass at every date"
