#!/usr/bin/env bash
# Installs every Debian 12 package qme needs to build, test and run.
# Idempotent and non-interactive: safe to run on every CI start.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev
  libsleef-dev  # QME inference's CPU kernel calls LibTorch's own vector exp (Sleef)
  libdnnl-dev  # the score matrices' CPU products: LibTorch's oneDNN, called without LibTorch
  libhdf5-dev
  zlib1g-dev  # the checkpoint readers' CRC-32
  libyaml-cpp-dev
  libopencv-dev
  libcli11-dev
  libspdlog-dev
  libfmt-dev
  nlohmann-json3-dev
  catch2
  libplplot-dev plplot-driver-cairo  # qme_tables --plots (PLplot, PNG/SVG via cairo)
  python3-torch  # tests only: checkpoints qme writes load with torch.load, and back
  python3-torchvision python3-pil python3-h5py  # bench/bench_loader_upstream.py only (upstream's data path)
  pybind11-dev python3-dev python3-numpy  # the Python package `import qme` (python/, QME_BUILD_PYTHON)
  python3-pytest  # its tests (ctest -L python)
  python3-pandas python3-sklearn  # qme.compat.test_score returns a pandas Series; bench/bench_python.py runs upstream's test_score
  python3-yaml  # tools/export/*.py and tests/export/ (ctest export.upstream_models, which also needs python3-torchvision, -pil, -h5py, -numpy)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "environment: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "environment: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
