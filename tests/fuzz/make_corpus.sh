#!/usr/bin/env bash
# Rebuilds the seed corpora of tests/fuzz/corpus from real files: the parity fixtures, qme's
# configs, qme-written caches and checkpoints, and small torch-written checkpoints. Inputs a
# fuzzer found (finding_*) are kept. Each seed of a multi-reader target starts with the byte
# that picks its reader (see fuzz_<name>.cpp).
# Usage: tests/fuzz/make_corpus.sh BUILD_DIR   (a normal build: qme_synth_caches, qme_make_checkpoint_seed)
set -euo pipefail
build=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$(realpath "$here/../../../shared/fixtures")
corpus="$here/corpus"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# seed TARGET NAME SELECTOR FILE: corpus/TARGET/NAME = selector byte + FILE.
seed() {
  mkdir -p "$corpus/$1"
  { printf "\\x$(printf %02x "$3")"; cat "$4"; } > "$corpus/$1/$2"
}

find "$corpus" -type f ! -name 'finding_*' -delete 2>/dev/null || true

# config: 0 backbone, 1 train.
for f in "$here"/../../configs/backbone_cfg-*.yaml; do seed config "$(basename "$f" .yaml)" 0 "$f"; done
for f in "$here"/../../configs/train_cfg-*.yaml; do seed config "$(basename "$f" .yaml)" 1 "$f"; done

# splits: the index of the list file in fuzz_splits.cpp's kListFiles.
i=0
for f in CCVID/train.txt CCVID/query.txt CCVID/gallery.txt mevid/train_name.txt mevid/test_name.txt \
         mevid/track_train_info.txt mevid/track_test_info.txt mevid/query_IDX.txt; do
  seed splits "$(echo "$f" | tr / _)" $i "$fixtures/data/root/$f"
  i=$((i + 1))
done

# hdf5: 0 score matrices, 1 test features, 2 centers, 3 center frames, 4 training frames,
# 5 test QE statistics, 6 face weights (fuzz_hdf5.cpp's readers()).
seed hdf5 scoremats_small 0 "$fixtures/eval/scoremats_small.h5"
seed hdf5 scoremats_small_nan 0 "$fixtures/eval/scoremats_small_nan.h5"
seed hdf5 cal-ccvid_small_test 1 "$fixtures/eval/cal-ccvid_small_test.h5"
seed hdf5 face_weights_small 6 "$fixtures/eval/face_weights_small.h5"
# Small qme-written caches: few identities and frames, one face and one body model.
"$build/tools/qme_synth_caches" --out_dir "$scratch/caches" --dataset ccvid --models adaface,cal-ccvid \
  --train_pids 3 --test_pids 3 --samples_per_clothes 1 --num_sample 2 >/dev/null
seed hdf5 centers 2 "$scratch/caches/mod_center_feat/adaface_center_ccvid_CC.h5"
seed hdf5 center_frames 3 "$scratch/caches/mod_center_feat/cal-ccvid_center_n2_ccvid_CC.h5"
seed hdf5 training_frames 4 "$scratch/caches/mod_center_feat/adaface_train_ccvid.h5"
seed hdf5 test_qe 5 "$scratch/caches/test_feats/adaface_ccvid_test_qe.h5"

# checkpoint: torch-written (upstream's layout, small), qme-written, and a code-carrying one.
mkdir -p "$corpus/checkpoint"
/usr/bin/python3 "$here/make_torch_seeds.py" "$corpus/checkpoint"
"$build/tests/fuzz/qme_make_checkpoint_seed" "$corpus/checkpoint/qme_written.pth"
cp "$here/../fixtures/checkpoint_os_system.pth" "$corpus/checkpoint/os_system.pth"

du -sh "$corpus"/*
