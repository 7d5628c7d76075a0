#!/usr/bin/env bash
# The whole qme pipeline on a synthetic whole-body dataset, with the real executables:
#
#   qme_synth                      dataset (CCVID layout) + demo TorchScript backbones + configs
#   qme_precompute_center  x3      training centers + training-frames caches of every model
#   qme_test --eval_mode feat x3   test features (+ test QE statistics) and each model's report
#   qme_test --eval_mode gather    the score-matrix file of the three models
#   qme_main --mode mod_qe         trains the face quality estimator
#   qme_main --mode score_loss     trains the QME fusion head
#   qme_tables                     single models, the six classic baselines and QME (+ plots),
#                                  rank lists, a paired bootstrap (1000 subject resamples) and
#                                  the metrics per face-quality bin
#   qme_ranks  x3                  rank-list pictures: probes QME gets right at rank 1 and the
#                                  best baseline does not, the reverse, and a few at random
#   qme_demo_check                 every file above opens; QME against the baselines
#
# Usage: demo/run_demo.sh [--build DIR] [--out DIR] [--size demo|ci] [--seed N] [--threads N]
#                         [--beat best|BASELINE] [--no_plots]
#   --build   build folder holding tools/ (default: $QME_BUILD or <repo>/build)
#   --out     output folder (default: <repo>/demo_out); emptied first
#   --size    demo (default; a few minutes on two cores) or ci (the end-to-end test's, ~1 minute)
#   --beat    the baseline QME must beat on the selection metric (GR_top1 + GR_mAP +
#             TAR@1%FAR - FNIR@1%FPIR); "best" (default) is the best of the six
#
# What lands in --out (every intermediate file stays there):
#   data/                 qme_synth: CCVID/ (ccvid.h5, ccvid_face.h5, {train,query,gallery}.txt,
#                         synth_truth.csv), backbones/{adaface,biggait,cal-ccvid}.pt,
#                         backbone_cfg-ccvid.yaml, train_cfg-ccvid.yaml
#   mod_center_feat/      {model}_center_n1_ccvid_CC.h5, {model}_center_ccvid_CC.h5,
#                         {model}_train_ccvid.h5 (+ the resolved config of each run)
#   test_feats/           {model}_ccvid_test.h5, {adaface,cal-ccvid}_ccvid_test_qe.h5,
#                         scoremats_ccvid.h5, mod_qe_demo_ccvid_{step}.h5 (probe quality weights)
#   reports/{model}.json  each model's full evaluation report (qme_test --json)
#   checkpoints/MEME/     the quality estimator(s) (mod_qe)
#   checkpoints/QME/      the selected QME fusion head (score_loss)
#   runs/mod_qe/, runs/score_loss/
#                         resolved configs, run.json, log.jsonl, state.json; score_loss's
#                         face_weights_test.h5 (the probes' quality weights it evaluated with)
#   tables.txt, tables.md, tables.json, tables.csv   the paper table, each cell with the half
#                         width of its 95 % bootstrap interval, and QME's paired differences
#                         (tables.json: "bootstrap" and "quality_bins" too)
#   rank_lists/           {column}.csv, {column}_first_match.csv, rank_lists.h5
#   rank_pictures/{improved,regressed,random}/
#                         {column}_probe{i}.png, index.csv, index.html
#   plots/                ROC, DET, CMC, score densities, quality weights, bootstrap intervals,
#                         metrics per quality bin (PNG, SVG, CSV)
#   logs/{stage}.log      each stage's log; logs/{stage}.out its stdout
#   timings.txt           seconds per stage
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${QME_BUILD:-$REPO/build}"
OUT="$REPO/demo_out"
SIZE=demo
SEED=7
THREADS=2
BEAT=best
PLOTS=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --beat) BEAT="$2"; shift 2 ;;
    --no_plots) PLOTS=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

case "$SIZE" in
  demo) QE_STEPS=300; QE_EVERY=100; QME_STEPS=600; QME_EVERY=25; PATIENCE=12 ;;
  ci) QE_STEPS=150; QE_EVERY=75; QME_STEPS=300; QME_EVERY=20; PATIENCE=8 ;;
  *) echo "run_demo.sh: --size must be demo or ci, got '$SIZE'" >&2; exit 2 ;;
esac

BIN="$BUILD/tools"
for tool in qme_synth qme_precompute_center qme_test qme_main qme_tables qme_demo_check; do
  if [ ! -x "$BIN/$tool" ]; then
    echo "run_demo.sh: $BIN/$tool not found: build first (cmake --build $BUILD -j2), or give --build DIR" >&2
    exit 2
  fi
done

MODELS=(adaface biggait cal-ccvid)
MODEL_LIST="adaface,biggait,cal-ccvid"
DATA="$OUT/data"
CFG="$DATA/backbone_cfg-ccvid.yaml"
TRAIN_CFG="$DATA/train_cfg-ccvid.yaml"
export QME_NUM_THREADS="$THREADS"

# Never empty a folder that is not a demo output.
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/timings.txt" ]; then
  echo "run_demo.sh: $OUT exists and is not a demo output folder (no timings.txt); choose another --out" >&2
  exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT/logs" "$OUT/reports"
: > "$OUT/timings.txt"
START=$(date +%s.%N)

# run STAGE CMD...: stdout to logs/STAGE.out, stderr to logs/STAGE.log; stops the demo on failure.
run() {
  local stage="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  printf '[demo] %-24s ' "$stage"
  if ! "$@" > "$OUT/logs/$stage.out" 2> "$OUT/logs/$stage.log"; then
    echo "FAILED"
    echo "run_demo.sh: stage '$stage' failed: $*" >&2
    tail -n 20 "$OUT/logs/$stage.log" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  echo "${secs} s"
  echo "$stage $secs" >> "$OUT/timings.txt"
}

COMMON=(--dataset ccvid --device cpu --log_level info)
EXTRACT=(--root "$DATA" --backbone_cfg "$CFG" --num_workers "$THREADS" --batch_frames 32)

run synth "$BIN/qme_synth" --out "$DATA" --seed "$SEED" --size "$SIZE" --threads "$THREADS"

for m in "${MODELS[@]}"; do
  run "centers_$m" "$BIN/qme_precompute_center" --mode "$m" "${COMMON[@]}" "${EXTRACT[@]}" \
    --save_path "$OUT/mod_center_feat" --num_sample 1
done

for m in "${MODELS[@]}"; do
  run "feat_$m" "$BIN/qme_test" --eval_mode feat --mode "$m" "${COMMON[@]}" "${EXTRACT[@]}" \
    --feats_dir "$OUT/test_feats" --json "$OUT/reports/$m.json"
done

run gather "$BIN/qme_test" --eval_mode gather --mode "$MODEL_LIST" "${COMMON[@]}" --feats_dir "$OUT/test_feats"

TRAIN=("${COMMON[@]}" --backbone_cfg "$CFG" --train_cfg "$TRAIN_CFG" --center_dir "$OUT/mod_center_feat"
       --feats_dir "$OUT/test_feats" --ckpt_dir "$OUT/checkpoints" --log_prefix demo --run_name demo
       --epoch 100000 --progress false)

run mod_qe "$BIN/qme_main" --mode mod_qe "${TRAIN[@]}" --run_dir "$OUT/runs/mod_qe" \
  --max_step "$QE_STEPS" --test_per_step "$QE_EVERY"
QE_CKPT=$(grep '\.pth$' "$OUT/logs/mod_qe.out" | tail -n 1)

run score_loss "$BIN/qme_main" --mode score_loss "${TRAIN[@]}" --run_dir "$OUT/runs/score_loss" \
  --qe_ckpt "$QE_CKPT" --max_step "$QME_STEPS" --test_per_step "$QME_EVERY" --early_stop_patience "$PATIENCE"
QME_CKPT=$(grep '\.pth$' "$OUT/logs/score_loss.out" | head -n 1)
WEIGHTS="$OUT/runs/score_loss/face_weights_test.h5"

TABLES=(--scoremats "$OUT/test_feats/scoremats_ccvid.h5" --models "$MODEL_LIST"
        --qme_ckpt "$QME_CKPT" --face_weights "$WEIGHTS" --threads "$THREADS" --bootstrap 1000)
PLOT_ARGS=()
[ "$PLOTS" = 1 ] && PLOT_ARGS=(--plots "$OUT/plots")
run tables "$BIN/qme_tables" "${TABLES[@]}" --json "$OUT/tables.json" --csv "$OUT/tables.csv" "${PLOT_ARGS[@]}" \
  --rank_lists "$OUT/rank_lists" --quality_bins 4
cp "$OUT/logs/tables.out" "$OUT/tables.txt"
"$BIN/qme_tables" "${TABLES[@]}" --markdown > "$OUT/tables.md" 2> /dev/null

# Rank-list pictures (qme_ranks is built where OpenCV has its image codecs).
if [ -x "$BIN/qme_ranks" ]; then
  for choice in improved regressed random; do
    run "ranks_$choice" "$BIN/qme_ranks" --rank_lists "$OUT/rank_lists" --dataset_root "$DATA" --dataset ccvid \
      --column qme --select "$choice" --against best --count 6 \
      --seed "$SEED" --out "$OUT/rank_pictures/$choice"
  done
fi

END=$(date +%s.%N)
TOTAL=$(awk -v a="$START" -v b="$END" 'BEGIN { printf "%.1f", b - a }')
echo "total $TOTAL" >> "$OUT/timings.txt"

echo
cat "$OUT/tables.txt"
echo
echo "[demo] pipeline finished in ${TOTAL} s; every file is in $OUT"
"$BIN/qme_demo_check" --out "$OUT" --beat "$BEAT"
