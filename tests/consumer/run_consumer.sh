#!/usr/bin/env bash
# Installs the built qme into a scratch prefix, builds tests/consumer against it and runs it;
# checks that eval_app (qme::eval only) does not load LibTorch.
# Usage: run_consumer.sh BUILD_DIR SCRATCH_DIR
set -euo pipefail
build=$1
scratch=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" > "$scratch.install.log" 2>&1 || { cat "$scratch.install.log"; exit 1; }
cmake -S "$here" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$scratch/prefix"
cmake --build "$scratch/build" -j2
"$scratch/build/eval_app"
if ldd "$scratch/build/eval_app" | grep -E 'libtorch|libc10'; then
  echo "eval_app links LibTorch, but qme::eval is torch-free" >&2
  exit 1
fi
echo "eval_app: no LibTorch on its link line"
if [[ -x "$scratch/build/fusion_app" ]]; then
  "$scratch/build/fusion_app"
fi
rm -rf "$scratch" "$scratch.install.log"
