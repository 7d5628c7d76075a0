#!/usr/bin/env bash
# check_qme_test_without_module.sh QME_TEST FEATS_DIR WORK_DIR: a copy of qme_test with no
# libqme_test_torch.so beside it (nor in ../lib/qme) scores and gathers on the CPU, and refuses
# feature extraction with one error naming the missing module (exit code 2).
set -euo pipefail
qme_test=$1 feats=$2 work=$3
rm -rf "$work" && mkdir -p "$work/bin" "$work/feats"
cp "$qme_test" "$work/bin/qme_test"
cp "$feats"/*_ltcc_test.h5 "$work/feats/"
"$work/bin/qme_test" --eval_mode gather --mode adaface,biggait,cal-ltcc --dataset ltcc \
  --feats_dir "$work/feats" --device cpu > /dev/null
test -s "$work/feats/scoremats_ltcc.h5"
"$work/bin/qme_test" --eval_mode score --mode biggait --dataset ltcc --feats_dir "$work/feats" \
  --device auto | grep -q "FNIR@1.00%FPIR_std"
set +e
out=$("$work/bin/qme_test" --eval_mode feat --mode cal-ltcc --dataset ltcc --feats_dir "$work/feats" \
  --device cpu 2>&1)
code=$?
set -e
if [[ $code -ne 2 || $out != *"libqme_test_torch.so is missing"* ]]; then
  echo "expected exit code 2 and the missing module named, got $code: $out" >&2
  exit 1
fi
echo "scored and gathered without the module; feat names it"
