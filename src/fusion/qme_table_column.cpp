#include "qme/fusion/qme_table_column.hpp"

#include <filesystem>
#include <map>
#include <optional>

#include "mixture_kernel.hpp"
#include "qme/core/error.hpp"
#include "qme/formats/face_weights.hpp"
#include "qme/io/plain_checkpoint.hpp"

namespace qme::fusion {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

/// The entries of upstream's MoNormQE_dev head that the kernel needs, found and shape-checked;
/// nothing when the state dict is not exactly a two-expert head of one output (its quality
/// estimator's "qe.*" entries aside, as load_state_dict(strict=False) skips them).
class HeadEntries {
 public:
  explicit HeadEntries(const io::PlainStateDict& state) {
    for (const auto& [name, tensor] : state) by_name_.emplace(name, &tensor);
  }

  std::optional<std::pair<detail::ExpertWeights, detail::ExpertWeights>> experts(std::string* why_not) {
    const auto* width = find("experts.0.bn.weight");
    const auto* fc1 = find("experts.0.score_mlp.fc1.weight");
    if (!width || !fc1 || width->sizes.size() != 1 || fc1->sizes.size() != 2)
      return refuse(why_not, "not a QME head");
    models_ = width->sizes[0];
    hidden_ = fc1->sizes[0];
    if (models_ < 1 || models_ > detail::kMaxKernelModels || hidden_ < 1 || hidden_ % models_ != 0) {
      return refuse(why_not, "a head shape the CPU kernel does not run");
    }
    auto e0 = expert(0), e1 = expert(1);
    if (!e0 || !e1 || used_ != by_name_.size() - foreign()) return refuse(why_not, problem_);
    return std::make_pair(std::move(*e0), std::move(*e1));
  }
  int64_t models() const { return models_; }

 private:
  const io::PlainTensor* find(const std::string& name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }
  std::nullopt_t refuse(std::string* why_not, const std::string& why) const {
    if (why_not) *why_not = why;
    return std::nullopt;
  }
  /// Entries outside the head: the quality estimator's.
  size_t foreign() const {
    size_t n = 0;
    for (const auto& [name, tensor] : by_name_) n += name.rfind("qe.", 0) == 0 ? 1 : 0;
    return n;
  }

  /// A float32 entry of exactly `sizes`, counted as used.
  const std::vector<float>* values(const std::string& name, const std::vector<int64_t>& sizes) {
    const auto* t = find(name);
    if (!t || t->sizes != sizes || t->element != io::StorageElement::kFloat) {
      problem_ = "'" + name + "' is missing, mis-shaped or not float32";
      return nullptr;
    }
    ++used_;
    return &t->values;
  }

  std::optional<detail::ExpertWeights> expert(int index) {
    const std::string p = "experts." + std::to_string(index) + ".";
    const auto* mean = values(p + "bn.running_mean", {models_});
    const auto* var = values(p + "bn.running_var", {models_});
    const auto* weight = values(p + "bn.weight", {models_});
    const auto* bias = values(p + "bn.bias", {models_});
    const auto* w1 = values(p + "score_mlp.fc1.weight", {hidden_, models_});
    const auto* b1 = values(p + "score_mlp.fc1.bias", {hidden_});
    const auto* w2 = values(p + "score_mlp.fc2.weight", {1, hidden_});
    const auto* b2 = values(p + "score_mlp.fc2.bias", {1});
    const auto* tracked = find(p + "bn.num_batches_tracked");
    if (!tracked || !tracked->sizes.empty())
      problem_ = "'" + p + "bn.num_batches_tracked' is missing or mis-shaped";
    if (!mean || !var || !weight || !bias || !w1 || !b1 || !w2 || !b2 || !tracked ||
        !tracked->sizes.empty()) {
      return std::nullopt;
    }
    ++used_;
    detail::ExpertWeights e;
    detail::set_batch_norm(e, *mean, *var, *weight, *bias, kBatchNormEps);
    e.fc1_weight = *w1;
    e.fc1_bias = *b1;
    e.fc2_weight = *w2;
    e.fc2_bias = b2->front();
    return e;
  }

  static constexpr double kBatchNormEps = 1e-5;  // BatchNorm1d's default, as LsnExpert builds it

  std::map<std::string, const io::PlainTensor*> by_name_;
  int64_t models_ = 0, hidden_ = 0;
  size_t used_ = 0;
  std::string problem_ = "not upstream's two-expert head";
};

class KernelQmeColumn : public QmeTableColumn {
 public:
  KernelQmeColumn(const std::string& checkpoint_path, const std::string& face_weights_path, bool use_qe,
                  int64_t models, std::pair<detail::ExpertWeights, detail::ExpertWeights> experts)
      : QmeTableColumn(checkpoint_path, face_weights_path, use_qe),
        models_(models),
        experts_(std::move(experts)) {}

 protected:
  int64_t num_models() const override { return models_; }
  ScoreMatrix fuse_matrices(const std::vector<const ScoreMatrix*>& matrices,
                            const std::vector<float>& quality) const override {
    return detail::fuse_matrices(experts_.first, experts_.second, matrices,
                                 quality.empty() ? nullptr : quality.data());
  }

 private:
  int64_t models_;
  std::pair<detail::ExpertWeights, detail::ExpertWeights> experts_;
};

}  // namespace

QmeTableColumn::QmeTableColumn(std::string checkpoint_path, std::string face_weights_path, bool use_qe)
    : checkpoint_path_(std::move(checkpoint_path)),
      face_weights_path_(std::move(face_weights_path)),
      use_qe_(use_qe) {
  eval::check_qme_column_flags(face_weights_path_, use_qe_);
  // Its contents wait for check(), when the probes are known; a missing file is refused now.
  if (use_qe_ && !std::filesystem::exists(face_weights_path_)) {
    throw InputError(face_weights_path_, "", "does not exist");
  }
}

void QmeTableColumn::check(const std::vector<std::string>& models, const TestLabels& labels) const {
  check_model_count(checkpoint_path_, num_models(), models);
  const auto probes = static_cast<int64_t>(labels.query.size());
  // Read once the number of probes is known, which the reader checks before it reads anything.
  if (use_qe_ && (!weights_read_ || static_cast<int64_t>(weights_.size()) != probes)) {
    weights_ = formats::read_face_weights(face_weights_path_, probes);
    weights_read_ = true;
  }
}

void QmeTableColumn::fuse(const std::vector<std::string>& models,
                          const std::vector<const ModelScores*>& scores, const TestLabels& labels,
                          ModelScores& out) {
  check(models, labels);
  out = fuse_each_kind(scores, [&](const std::vector<const ScoreMatrix*>& matrices) {
    return fuse_matrices(matrices, weights_);
  });
}

void check_model_count(const std::string& checkpoint_path, int64_t expected,
                       const std::vector<std::string>& models) {
  if (static_cast<int64_t>(models.size()) == expected) return;
  throw InputError(
      checkpoint_path, "experts.0.bn.weight",
      "has " + std::to_string(expected) + " entries: the QME experts were trained on " +
          std::to_string(expected) + " models, but " + std::to_string(models.size()) + " are given (" +
          joined(models) +
          "); use the model list the checkpoint was trained with (the backbone config's model_list), in the "
          "same order");
}

std::unique_ptr<eval::ScoreFusion> make_kernel_qme_column(const std::string& checkpoint_path,
                                                          const std::string& face_weights_path, bool use_qe,
                                                          std::string* why_not) {
  if (!detail::mixture_kernel_available()) {
    if (why_not) *why_not = "this CPU lacks AVX2 and FMA (or qme was built without Sleef)";
    return nullptr;
  }
  io::PlainStateDict state;
  try {
    // The quality estimator's weights ("qe.*") are checked but not kept: the face weights come
    // from their own file.
    state = io::read_plain_state_dict(checkpoint_path,
                                      [](const std::string& name) { return name.rfind("qe.", 0) != 0; });
  } catch (const InputError& e) {
    if (why_not) *why_not = e.what();
    return nullptr;
  }
  HeadEntries head(state);
  auto experts = head.experts(why_not);
  if (!experts) return nullptr;
  return std::make_unique<KernelQmeColumn>(checkpoint_path, face_weights_path, use_qe, head.models(),
                                           std::move(*experts));
}

}  // namespace qme::fusion
