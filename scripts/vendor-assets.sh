#!/usr/bin/env bash
# Copies the front-end libraries shangji embeds (htmx, SortableJS, ECharts) from npm into
# crates/shangji/static/vendor/, with their licenses. The copies are committed, so building
# shangji needs neither Node nor the network; `--check` (run by ./test.sh) verifies that the
# committed copies are exactly what npm ships for the versions pinned in web/package.json.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-copy}
(cd web && npm ci --no-audit --no-fund --silent)
out=crates/shangji/static/vendor
mkdir -p "$out"
# source in node_modules -> name in the binary
files=(
  "htmx.org/dist/htmx.min.js htmx.min.js"
  "htmx.org/LICENSE htmx.LICENSE.txt"
  "sortablejs/Sortable.min.js Sortable.min.js"
  "sortablejs/LICENSE Sortable.LICENSE.txt"
  "echarts/dist/echarts.min.js echarts.min.js"
  "echarts/LICENSE echarts.LICENSE.txt"
  "echarts/NOTICE echarts.NOTICE.txt"
)
status=0
for pair in "${files[@]}"; do
  read -r src name <<<"$pair"
  if [ "$mode" = "--check" ]; then
    if ! cmp -s "web/node_modules/$src" "$out/$name"; then
      echo "static/vendor/$name differs from npm's $src: run scripts/vendor-assets.sh" >&2
      status=1
    fi
  else
    cp "web/node_modules/$src" "$out/$name"
  fi
done
exit $status
