#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `scripts/fuzz.sh [DURATION]`, DURATION per
# target as 30s, 10m or 1h (default 1m). Needs the nightly toolchain (cargo-fuzz's
# sanitizers); installs cargo-fuzz if missing. New interesting inputs go to
# target/fuzz-corpus/ (not committed); the checked-in seeds in fuzz/corpus/ are read only.
# A crash is copied into fuzz/corpus/<target>/ as a regression case, which the normal test
# suite replays on stable (fuzzing/tests/corpus.rs), and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-1m}
case "$duration" in
  *h) seconds=$(( ${duration%h} * 3600 )) ;;
  *m) seconds=$(( ${duration%m} * 60 )) ;;
  *s) seconds=${duration%s} ;;
  *[!0-9]*|'') echo "usage: scripts/fuzz.sh [DURATION like 30s, 10m, 1h]" >&2; exit 2 ;;
  *) seconds=$duration ;;
esac

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzzing needs the nightly toolchain (rustup toolchain list shows none)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^obs-fuzz-targets$')
failed=()
for target in $targets; do
  scratch="target/fuzz-corpus/$target"
  # Only this run's crashes are kept: earlier ones are in the corpus already or were fixed.
  rm -rf "fuzz/artifacts/$target"
  mkdir -p "$scratch" "fuzz/artifacts/$target"
  echo "== fuzzing $target for ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "$scratch" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096; then
    for crash in fuzz/artifacts/"$target"/*; do
      [ -f "$crash" ] || continue
      kept="fuzz/corpus/$target/regression-$(basename "$crash")"
      cp "$crash" "$kept"
      echo "   kept $kept: fix the defect, then commit it so every test run replays it"
    done
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "defects found by: ${failed[*]}" >&2
  exit 1
fi
echo "every target ran ${seconds}s without a defect"
