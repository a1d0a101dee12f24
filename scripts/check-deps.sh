#!/usr/bin/env bash
# The dependency rules of DESIGN.md's component table, checked over the includes of src/:
# a component's non-test files (not *_test.cpp, testing.hpp/.cpp, *_testing.hpp/.cpp, *_fixture.hpp) include only its own headers and those of the components it
# depends on (directly or through them), and the HTTP faces (api/, edge/) never include db/.
# Prints each breach as file:line and exits 1 when there is one. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

# component: what it depends on (DESIGN.md, "Components"). Keep in step with the table.
declare -A deps=(
  [core]=""
  [db]="core"
  [http]="core"
  [audit]="db"
  [auth]="db audit"
  [store]="core"
  [deploys]="db audit store"
  [edge]="http store deploys"
  [sandbox]="core"
  [git]="http db"
  [builder]="deploys store sandbox git"
  [functions]="store sandbox"
  [domains]="db http"
  [api]="http audit auth deploys edge builder git store sandbox domains"
  [roles]="api audit edge builder git deploys auth store sandbox functions domains http db"
  [cli]="roles api audit edge builder git deploys auth store sandbox functions domains http db"
)
# Components that must not see db/ even through what they depend on.
no_db="api edge"

closure() {  # closure COMPONENT -> every component it may include, itself included
  local -A seen=()
  local stack=("$1")
  while ((${#stack[@]})); do
    local c=${stack[-1]}
    unset 'stack[-1]'
    [[ -n ${seen[$c]:-} ]] && continue
    seen[$c]=1
    for d in ${deps[$c]:-}; do stack+=("$d"); done
  done
  echo "${!seen[@]}"
}

fail=0
for dir in src/*/; do
  comp=$(basename "$dir")
  if [[ -z ${deps[$comp]+x} ]]; then
    echo "check-deps: src/$comp is not in the table (scripts/check-deps.sh, DESIGN.md)" >&2
    fail=1
    continue
  fi
  allowed=" $(closure "$comp") "
  [[ " $no_db " == *" $comp "* ]] && allowed=${allowed// db / }
  while IFS=: read -r file line inc; do
    target=${inc#*\"}
    target=${target%%/*}
    [[ -d src/$target ]] || continue
    if [[ $allowed != *" $target "* ]]; then
      echo "$file:$line: $comp may not include $target/ (${inc//[[:space:]]/ })" >&2
      fail=1
    fi
  done < <(grep -Hn '^#include "' "$dir"*.cpp "$dir"*.hpp 2>/dev/null | grep -v '_test\.cpp:' |
    grep -v '[/_]testing\.\(hpp\|cpp\):' | grep -v '_fixture\.hpp:' || true)
done
if ((fail)); then
  echo "check-deps: includes break the component rules above" >&2
  exit 1
fi
echo "check-deps: includes follow the component table"
