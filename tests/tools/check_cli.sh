#!/usr/bin/env bash
# Usage: check_cli.sh EXPECTED_CODE PATTERN -- COMMAND [ARGS...]
# Runs COMMAND and fails unless it exits with EXPECTED_CODE and its output (stdout and stderr
# together) contains PATTERN as a literal string. Prints the output when it fails.
set -u

if [[ $# -lt 4 || "$3" != "--" ]]; then
  echo "usage: $0 EXPECTED_CODE PATTERN -- COMMAND [ARGS...]" >&2
  exit 2
fi
expected="$1"
pattern="$2"
shift 3

output="$("$@" 2>&1)"
code=$?

failed=0
if [[ "$code" != "$expected" ]]; then
  echo "FAIL: exit code $code, expected $expected" >&2
  failed=1
fi
if ! grep -qF -- "$pattern" <<<"$output"; then
  echo "FAIL: output does not contain '$pattern'" >&2
  failed=1
fi
if [[ $failed -ne 0 ]]; then
  echo "command: $*" >&2
  echo "----- output -----" >&2
  echo "$output" >&2
  exit 1
fi
exit 0
