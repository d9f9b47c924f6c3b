#!/usr/bin/env bash
# Regenerates public/logos/ from providers/*.toml: simple-icons (CC0) where
# it has the brand, a generated monogram otherwise. Run after adding a
# provider, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMPLE_ICONS_VERSION=16.37.0
mkdir -p .tools
[ -f .tools/package.json ] || echo '{"private":true}' >.tools/package.json
if ! node -e "process.exit(require('./.tools/node_modules/simple-icons/package.json').version === '$SIMPLE_ICONS_VERSION' ? 0 : 1)" 2>/dev/null; then
  (cd .tools && npm install --silent --no-audit --no-fund "simple-icons@$SIMPLE_ICONS_VERSION")
fi
node scripts/logos.mjs
