#!/usr/bin/env bash
# Usage: check_sigint.sh RUN_DIR -- COMMAND [ARGS...]
# Ctrl-C during training: starts `COMMAND ARGS --max_step 1000000` (a qme_main run writing to
# RUN_DIR), sends it SIGINT once its log holds a few steps, and fails unless it exits with 130
# and says how to resume. Then resumes it with --resume and a --max_step a few steps on, and
# fails unless that exits 0 with a finished state.json.
set -u

if [[ $# -lt 3 || "$2" != "--" ]]; then
  echo "usage: $0 RUN_DIR -- COMMAND [ARGS...]" >&2
  exit 2
fi
run_dir="$1"
shift 2
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "----- output -----" >&2
  cat "$out" >&2
  exit 1
}

"$@" --max_step 1000000 >"$out" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [[ -f "$run_dir/log.jsonl" && $(wc -l <"$run_dir/log.jsonl") -ge 20 ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -INT "$pid" 2>/dev/null || fail "the run ended before it could be interrupted"
wait "$pid"
code=$?
[[ "$code" == 130 ]] || fail "exit code $code after SIGINT, expected 130"
grep -qF -- "--resume" "$out" || fail "no resume command in the output"
grep -qF -- "interrupted after step" "$out" || fail "no interruption message"

steps=$(sed -n 's/.*"steps_done": \([0-9]*\).*/\1/p' "$run_dir/state.json")
[[ -n "$steps" ]] || fail "state.json holds no steps_done"
"$@" --max_step $((steps + 5)) --resume >"$out" 2>&1
code=$?
[[ "$code" == 0 ]] || fail "exit code $code on --resume, expected 0"
grep -qF '"finished": true' "$run_dir/state.json" || fail "the resumed run did not finish"
exit 0
