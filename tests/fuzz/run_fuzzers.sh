#!/usr/bin/env bash
# Runs qme's libFuzzer targets for a while each, one after another, on a copy of their seed
# corpora (the committed corpus only grows by hand: add a crashing input as finding_<what>).
# Usage: tests/fuzz/run_fuzzers.sh FUZZ_BUILD_DIR SECONDS_EACH OUT_DIR [NAME...]
#   FUZZ_BUILD_DIR: cmake -DCMAKE_CXX_COMPILER=clang++-14 -DQME_BUILD_FUZZERS=ON -DQME_SANITIZE=address,undefined
# Each run (libFuzzer's fork mode: a finding is recorded and the run goes on) logs its progress
# (execs, coverage) into OUT_DIR/NAME.log and its CPU time into OUT_DIR/NAME.time; crashing,
# leaking, slow or memory-hungry inputs land in OUT_DIR/NAME/findings/.
set -euo pipefail
build=$(realpath "$1")
seconds=$2
out=$(realpath -m "$3")
shift 3
here=$(cd "$(dirname "$0")" && pwd)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(checkpoint config hdf5 splits)
export ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1
export LSAN_OPTIONS=suppressions=$here/lsan.supp
export QME_FUZZ_DATASETS=${QME_FUZZ_DATASETS:-$(realpath "$here/../../../shared/fixtures/data/root")}
for name in "${names[@]}"; do
  mkdir -p "$out/$name/corpus" "$out/$name/findings"
  cp -n "$here/corpus/$name"/* "$out/$name/corpus/" 2>/dev/null || true
  dict=()
  [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
  # -rss_limit_mb: a memory bomb is a finding, as in qme's 1.2 GB budget for refused inputs.
  # CPU time (user + system) is what "fuzzed for N CPU-minutes" counts.
  TIMEFORMAT="%R s wall, %U s user, %S s system"
  { time "$build/tests/fuzz/qme_fuzz_$name" "$out/$name/corpus" "$here/corpus/$name" "${dict[@]}" \
      -max_total_time="$seconds" -rss_limit_mb=1500 -timeout=20 -print_final_stats=1 \
      -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
      -artifact_prefix="$out/$name/findings/" >"$out/$name.log" 2>&1 || true; } 2>"$out/$name.time"
  echo "$name: $(cat "$out/$name.time"); $(grep -E '^#[0-9]+: cov:' "$out/$name.log" | tail -1)"
  ls "$out/$name/findings"
done
