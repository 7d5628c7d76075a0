// Both losses against upstream's loss.py on the fixture's inputs (model_expected.h5, loss/*).
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "qme/io/hdf5_file.hpp"
#include "qme/loss/pseudo_quality_loss.hpp"
#include "qme/loss/score_triplet_loss.hpp"
#include "support/test_support.hpp"

namespace {

using qme::test::kModelFixtures;

torch::Tensor read_float(const qme::io::H5Reader& reader, const std::string& name) {
  qme::io::Shape shape;
  auto values = reader.read_float32(name, &shape);
  return torch::from_blob(values.data(), std::vector<int64_t>(shape.begin(), shape.end()), torch::kFloat32)
      .clone();
}

torch::Tensor read_int(const qme::io::H5Reader& reader, const std::string& name) {
  auto values = reader.read_int64(name);
  return torch::tensor(values, torch::kInt64);
}

}  // namespace

TEST_CASE("the score triplet and pseudo-quality losses match upstream's", "[loss][parity]") {
  const qme::io::H5Reader fixtures(kModelFixtures);
  const auto scores = read_float(fixtures, "loss/scores");
  const auto labels = read_int(fixtures, "loss/labels");
  const auto centers = read_int(fixtures, "loss/center_labels");
  REQUIRE(scores.sizes() == torch::IntArrayRef({labels.size(0), centers.size(0)}));
  const double score_loss = qme::loss::score_triplet_loss(scores, labels, centers, 1.0).item<double>();
  const double rank_loss =
      qme::loss::pseudo_quality_loss(read_float(fixtures, "loss/pred_weights"), scores, labels, centers, 3)
          .item<double>();
  const double expected_score = read_float(fixtures, "loss/score_loss").item<double>();
  const double expected_rank = read_float(fixtures, "loss/rank_loss").item<double>();
  INFO("score loss " << score_loss << " vs " << expected_score << ", rank loss " << rank_loss << " vs "
                     << expected_rank);
  CHECK(std::abs(score_loss - expected_score) <= 1e-5);
  CHECK(std::abs(rank_loss - expected_rank) <= 1e-5);
}
