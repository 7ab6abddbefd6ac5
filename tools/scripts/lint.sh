#!/usr/bin/env bash
# npm run lint: the engine's domains import one way only and no module takes
# part in an import cycle (dependency-cruiser, rules in .dependency-cruiser.cjs),
# and shellcheck passes on every shell script in the repository and on the
# generated workflow's run: steps.
set -euo pipefail
cd "$(dirname "$0")/../.."

npx depcruise --config .dependency-cruiser.cjs libs tools test bench infra

if ! command -v shellcheck >/dev/null; then
  echo "lint: shellcheck is not installed — run bash tools/scripts/setup.sh, or install Debian's shellcheck package" >&2
  exit 1
fi

# A script with a shebang says its own shell; the engine's scripts run as
# `sh -c` or `bash -c` and have none, so their extension says it.
with_shebang=() as_sh=() as_bash=()
while IFS= read -r -d '' f; do
  if [ "$(head -c 2 "$f")" = '#!' ]; then with_shebang+=("$f")
  elif [[ $f == *.bash ]]; then as_bash+=("$f")
  else as_sh+=("$f")
  fi
done < <(git ls-files -z --cached --others --exclude-standard -- '*.sh' '*.bash' .ci/run)

[ ${#with_shebang[@]} -eq 0 ] || shellcheck "${with_shebang[@]}"
[ ${#as_sh[@]} -eq 0 ] || shellcheck --shell=sh "${as_sh[@]}"
[ ${#as_bash[@]} -eq 0 ] || shellcheck --shell=bash "${as_bash[@]}"

# The generated workflow's run: steps are bash scripts too (its defaults.run.shell).
workflow_dir=$(mktemp -d)
trap 'rm -rf "$workflow_dir"' EXIT
node tools/scripts/workflow-run-steps.mjs "$workflow_dir"
# SC1091: a step sources the secrets file an earlier step wrote, which does not exist here.
shellcheck --shell=bash --exclude=SC1091 "$workflow_dir"/*.bash
run_steps=$(find "$workflow_dir" -name '*.bash' | wc -l)
echo "lint: $(( ${#with_shebang[@]} + ${#as_sh[@]} + ${#as_bash[@]} )) shell scripts and ${run_steps} workflow run: steps pass shellcheck"
