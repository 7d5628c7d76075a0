// The qme_tables_qme module: QME inference for programs that do not link LibTorch. qme_tables
// opens it with dlopen only when a run has --qme_ckpt (qme/pipeline/qme_column.hpp).
#include "qme/fusion/qme_inference.hpp"

extern "C" __attribute__((visibility("default"))) void qme_make_qme_table_fusion(
    const std::string& checkpoint, const std::string& face_weights, bool use_qe,
    std::unique_ptr<qme::eval::ScoreFusion>* out) {
  *out = qme::fusion::make_qme_table_fusion(checkpoint, face_weights, use_qe);
}
