#!/usr/bin/env bash
# The published package holds what users need (src, the policies it embeds or documents,
# examples, README, licences, build.rs which builds the embedded init) and nothing else (no tests, corpora, benches, fuzz, CI scripts).
set -euo pipefail
cd "$(dirname "$0")/.."
list=$(cargo package --list -p runcell --allow-dirty)
status=0
for f in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE build.rs src/lib.rs src/check.rs \
  src/sandbox/init/init.c \
  policies/profiles/default.toml policies/seccomp/default.toml policies/container/seccomp.json; do
  grep -qx "$f" <<<"$list" || { echo "package lacks $f"; status=1; }
done
extra=$(grep -vE '^(Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|\.cargo_vcs_info\.json|README\.md|LICENSE-(MIT|APACHE)|build\.rs|src/.*|policies/.*|examples/.*)$' <<<"$list" || true)
if [ -n "$extra" ]; then
  echo "package holds files users do not need:"
  echo "$extra"
  status=1
fi
echo "package: $(wc -l <<<"$list") files"
exit "$status"
