#!/usr/bin/env bash
# Installs the built qme into a scratch prefix, builds tests/consumer against it and runs it;
# checks that eval_app (qme::eval) and base_app (every torch-free area) do not load LibTorch.
# Usage: run_consumer.sh BUILD_DIR SCRATCH_DIR [CXX_COMPILER [SANITIZERS]]
set -euo pipefail
build=$1
scratch=$2
compiler=${3:-c++}
sanitize=${4:-}
flags=()
if [[ -n "$sanitize" ]]; then
  flags=(-DCMAKE_CXX_FLAGS="-fsanitize=$sanitize" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitize")
fi
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$scratch"
cmake --install "$build" --prefix "$scratch/prefix" > "$scratch.install.log" 2>&1 || { cat "$scratch.install.log"; exit 1; }
cmake -S "$here" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_CXX_COMPILER="$compiler" "${flags[@]}"
cmake --build "$scratch/build" -j2
for app in eval_app base_app; do
  "$scratch/build/$app"
  if ldd "$scratch/build/$app" | grep -E 'libtorch|libc10'; then
    echo "$app links LibTorch, but the torch-free areas must not" >&2
    exit 1
  fi
  echo "$app: no LibTorch on its link line"
done
if [[ -x "$scratch/build/fusion_app" ]]; then
  "$scratch/build/fusion_app"
fi
rm -rf "$scratch" "$scratch.install.log"
