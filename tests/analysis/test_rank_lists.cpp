// Rank lists: each probe's top entries in the metrics' exact order (numpy's argsort of the
// negated row, ties included), labelled under both protocols, and first-match ranks that give
// the report's GR_top{k} / CC_top{k} back exactly.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "qme/analysis/rank_lists.hpp"
#include "qme/core/error.hpp"
#include "qme/core/numpy_sort.hpp"
#include "qme/eval/evaluation_report.hpp"
#include "qme/eval/retrieval.hpp"
#include "qme/formats/score_matrix_file.hpp"
#include "qme/io/hdf5_file.hpp"
#include "qme/pipeline/tables_job.hpp"
#include "qme/synthetic/synthetic_scores.hpp"
#include "support/tables_support.hpp"
#include "support/test_support.hpp"

using qme::test::TempDir;

namespace {

using qme::test::kNaN;
const char* const kHeader =
    "probe_index,rank,gallery_index,pid,camid,clothes_id,score,label_general,label_cc";
const char* const kFirstMatchHeader = "probe_index,first_match_rank_general,first_match_rank_cc";

using CsvRow = std::vector<std::string>;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Rows of a CSV file (empty fields kept), header first.
std::vector<CsvRow> read_csv(const std::string& path) {
  std::vector<CsvRow> rows;
  std::stringstream lines(read_text(path));
  std::string line;
  while (std::getline(lines, line)) {
    CsvRow row;
    std::string field;
    std::stringstream fields(line);
    while (std::getline(fields, field, ',')) row.push_back(field);
    if (!line.empty() && line.back() == ',') row.push_back("");
    rows.push_back(row);
  }
  return rows;
}

/// Upstream's ranking of one row: np.argsort(-row).
std::vector<int64_t> numpy_order(const qme::ScoreMatrix& scores, int64_t row) {
  std::vector<float> negated(scores.row(row), scores.row(row) + scores.cols);
  for (auto& v : negated) v = -v;
  std::vector<int64_t> order;
  qme::numpy::argsort(negated.data(), scores.cols, order);
  return order;
}

std::vector<int64_t> prefix(const std::vector<int64_t>& order, size_t n) {
  return {order.begin(), order.begin() + static_cast<std::ptrdiff_t>(std::min(n, order.size()))};
}

/// Labels where every probe has several same-camera and same-clothes entries of its identity.
qme::TestLabels crowded_labels(int64_t probes, int64_t gallery, std::mt19937& gen) {
  qme::IdentityLabels query, entries;
  auto fill = [&](qme::IdentityLabels& side, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      side.pids.push_back(static_cast<int64_t>(gen() % 5));
      side.camids.push_back(static_cast<int64_t>(gen() % 3));
      side.clothes_ids.push_back(static_cast<int64_t>(gen() % 2));
    }
  };
  fill(query, probes);
  fill(entries, gallery);
  return qme::test::make_labels(query, entries);
}

/// Scores rounded to 2 decimals, with all-equal rows, NaNs and signed zeros: ties everywhere.
qme::ScoreMatrix tied_scores(int64_t rows, int64_t cols, std::mt19937& gen) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  qme::ScoreMatrix m(rows, cols);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      float v = std::round(uniform(gen) * 100.0f) / 100.0f;
      if (i % 7 == 3) v = 0.25f;                                 // an all-equal row
      if (i % 5 == 1 && j % 4 == 0) v = kNaN;                    // NaNs mixed in
      if (i % 6 == 2 && j % 3 == 0) v = (j % 2) ? 0.0f : -0.0f;  // -0 ties with +0
      if (i % 11 == 5) v = (j % 2) ? kNaN : 0.5f;                // half NaN, half one value
      m.values[static_cast<size_t>(i * cols + j)] = v;
    }
  }
  return m;
}

/// Probe q's rows of a rank-list CSV (rows[0] is the header).
std::vector<CsvRow> rows_of_probe(const std::vector<CsvRow>& rows, int64_t q) {
  std::vector<CsvRow> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].at(0) == std::to_string(q)) out.push_back(rows[r]);
  }
  return out;
}

/// 1-based rank of the first row labelled match in `column` once rows labelled junk there are
/// removed; 0 when the listed rows hold no match.
int64_t first_match_in_rows(const std::vector<CsvRow>& rows, size_t column) {
  int64_t rank = 0;
  for (const auto& row : rows) {
    if (row.at(column) == "junk") continue;
    ++rank;
    if (row.at(column) == "match") return rank;
  }
  return 0;
}

int64_t parse_rank(const std::string& field) {
  return field.empty() ? 0 : std::stoll(field);
}

/// Writes one column through RankListWriter and checks every file against the metrics: the
/// order is numpy's, ranks and first matches agree with query_outcomes, and the share of
/// probes with a first match within k is the report's GR_top{k} / CC_top{k}, exactly.
void check_column(const std::string& key, const qme::ModelScores& scores, const qme::TestLabels& labels,
                  int top_k) {
  INFO("column " << key << ", top_k " << top_k);
  TempDir dir;
  qme::analysis::RankListWriter writer({dir.path("lists"), top_k, 3});
  writer.write_column(key, scores.score_mat, labels);
  const auto csv = read_csv(dir.path("lists/" + key + ".csv"));
  const auto first = read_csv(dir.path("lists/" + key + "_first_match.csv"));
  const auto outcomes = qme::eval::query_outcomes(scores.score_mat, labels, 2);
  const auto& m = scores.score_mat;
  REQUIRE(first.size() == static_cast<size_t>(m.rows) + 1);

  std::vector<int64_t> general(static_cast<size_t>(m.rows)), cc(general.size());
  for (int64_t q = 0; q < m.rows; ++q) {
    INFO("probe " << q);
    const auto& o = outcomes[static_cast<size_t>(q)];
    const auto& row = first[static_cast<size_t>(q) + 1];
    REQUIRE(row.size() == 3);
    general[static_cast<size_t>(q)] = parse_rank(row[1]);
    cc[static_cast<size_t>(q)] = parse_rank(row[2]);
    CHECK(general[static_cast<size_t>(q)] ==
          (o[qme::eval::kGeneral].valid ? o[qme::eval::kGeneral].first_good_position + 1 : 0));
    CHECK(
        cc[static_cast<size_t>(q)] ==
        (o[qme::eval::kClothesChanging].valid ? o[qme::eval::kClothesChanging].first_good_position + 1 : 0));

    // The listed entries are numpy's order, junk included; ranks count the others.
    const auto listed = rows_of_probe(csv, q);
    std::vector<int64_t> indices;
    int64_t ranked = 0;
    for (const auto& r : listed) {
      REQUIRE(r.size() == 9);
      indices.push_back(std::stoll(r[2]));
      if (r[7] == "junk") {
        CHECK(r[1].empty());
      } else {
        CHECK(r[1] == std::to_string(++ranked));
      }
    }
    const auto numpy = numpy_order(m, q);
    CHECK(indices == prefix(numpy, indices.size()));
    CHECK(ranked <= top_k);
    if (ranked < top_k) CHECK(indices.size() == static_cast<size_t>(m.cols));  // the gallery ran out
    if (!listed.empty()) CHECK(!listed.back()[1].empty());                     // ends on a ranked entry

    // A first match within the listed rows is where the first-match file puts it.
    const auto general_listed = first_match_in_rows(listed, 7);
    if (general_listed > 0) CHECK(general_listed == general[static_cast<size_t>(q)]);
    if (general[static_cast<size_t>(q)] > 0 && general[static_cast<size_t>(q)] <= top_k)
      CHECK(general_listed == general[static_cast<size_t>(q)]);
    const auto cc_listed = first_match_in_rows(listed, 8);
    if (cc_listed > 0) CHECK(cc_listed == cc[static_cast<size_t>(q)]);
  }

  const auto report = qme::eval::evaluate(scores.score_mat, scores.merge_score_mat, labels);
  for (int k : {1, 5, 10, 20}) {
    for (const auto& [prefix_name, ranks] : {std::pair{"GR", general}, std::pair{"CC", cc}}) {
      int64_t valid = 0, hits = 0;
      for (auto r : ranks) {
        valid += r > 0;
        hits += r > 0 && r <= k;
      }
      const double expected = report.at(std::string(prefix_name) + "_top" + std::to_string(k));
      INFO(prefix_name << "_top" << k << ": " << hits << " of " << valid);
      REQUIRE(valid > 0);
      CHECK(static_cast<double>(hits) / static_cast<double>(valid) == expected);
    }
  }
}

}  // namespace

TEST_CASE("metric_order_prefixes equals numpy's argsort of the negated row under heavy ties", "[analysis]") {
  std::mt19937 gen(17);
  for (int64_t cols : {1, 7, 16, 17, 40, 300}) {
    const auto scores = tied_scores(23, cols, gen);
    for (int64_t length : {int64_t{1}, int64_t{5}, cols - 1, cols, cols + 3}) {
      const std::vector<int64_t> lengths(static_cast<size_t>(scores.rows), length);
      const auto prefixes = qme::analysis::metric_order_prefixes(scores, lengths, 3);
      REQUIRE(prefixes.size() == static_cast<size_t>(scores.rows));
      for (int64_t q = 0; q < scores.rows; ++q) {
        INFO("cols " << cols << ", length " << length << ", row " << q);
        CHECK(prefixes[static_cast<size_t>(q)] ==
              prefix(numpy_order(scores, q), static_cast<size_t>(std::max<int64_t>(length, 0))));
      }
    }
  }
  // The test can fail: numpy does not keep equal scores in index order past 16 of them.
  const qme::ScoreMatrix equal(1, 40, 0.5f);
  CHECK(prefix(numpy_order(equal, 0), 10) != std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(qme::analysis::metric_order_prefixes(equal, {10}) ==
        std::vector<std::vector<int64_t>>{prefix(numpy_order(equal, 0), 10)});
}

TEST_CASE("entries are labelled match, junk or wrong under the general and clothes-changing protocols",
          "[analysis]") {
  // Probe 0: pid 1, camera 0, clothes 0. Probe 1: pid 3, absent from the gallery.
  const auto labels =
      qme::test::make_labels({{1, 3}, {0, 0}, {0, 0}}, {{1, 1, 1, 2, 1}, {0, 1, 1, 1, 0}, {0, 0, 1, 1, 1}});
  using qme::analysis::EntryLabel;
  const std::vector<EntryLabel> general = {EntryLabel::kJunk, EntryLabel::kMatch, EntryLabel::kMatch,
                                           EntryLabel::kWrong, EntryLabel::kJunk};
  const std::vector<EntryLabel> cc = {EntryLabel::kJunk, EntryLabel::kJunk, EntryLabel::kMatch,
                                      EntryLabel::kWrong, EntryLabel::kJunk};
  for (int64_t j = 0; j < 5; ++j) {
    CHECK(qme::analysis::general_label(labels, 0, j) == general[static_cast<size_t>(j)]);
    CHECK(qme::analysis::clothes_changing_label(labels, 0, j) == cc[static_cast<size_t>(j)]);
    CHECK(qme::analysis::general_label(labels, 1, j) == EntryLabel::kWrong);
  }

  // Ranked: 0 (junk), 3, 1, 4 (junk), 2.
  const auto scores = qme::test::make_matrix(2, 5,
                                             {0.9f, 0.7f, 0.5f, 0.8f, 0.6f,  //
                                              0.1f, 0.2f, 0.3f, 0.4f, 0.5f});
  TempDir dir;
  qme::analysis::RankListWriter writer({dir.path("out"), 3, 1});
  writer.write_column("m", scores, labels);
  CHECK(read_text(dir.path("out/m.csv")) == std::string(kHeader) +
                                                "\n"
                                                "0,,0,1,0,0,0.899999976,junk,junk\n"
                                                "0,1,3,2,1,1,0.800000012,wrong,wrong\n"
                                                "0,2,1,1,1,0,0.699999988,match,junk\n"
                                                "0,,4,1,0,1,0.600000024,junk,junk\n"
                                                "0,3,2,1,1,1,0.5,match,match\n"
                                                "1,1,4,1,0,1,0.5,wrong,wrong\n"
                                                "1,2,3,2,1,1,0.400000006,wrong,wrong\n"
                                                "1,3,2,1,1,1,0.300000012,wrong,wrong\n");
  // CC removes entries 0, 1 and 4: the first CC match (entry 2) is second after entry 3.
  CHECK(read_text(dir.path("out/m_first_match.csv")) == std::string(kFirstMatchHeader) +
                                                            "\n"
                                                            "0,2,2\n"
                                                            "1,,\n");
  CHECK(writer.written() == std::vector<std::string>{dir.path("out/m.csv"), dir.path("out/m_first_match.csv"),
                                                     dir.path("out/rank_lists.h5")});

  // The HDF5 lists the first top_k entries, junk included.
  const qme::io::H5Reader h5(dir.path("out/rank_lists.h5"));
  CHECK(h5.read_int_attribute("top_k") == 3);
  CHECK(h5.read_strings("columns") == std::vector<std::string>{"m"});
  qme::io::Shape shape;
  CHECK(h5.read_int64("m/gallery_index", &shape) == std::vector<int64_t>{0, 3, 1, 4, 3, 2});
  CHECK(shape == qme::io::Shape{2, 3});
  CHECK(h5.read_float32("m/score") == std::vector<float>{0.9f, 0.8f, 0.7f, 0.5f, 0.4f, 0.3f});
  CHECK(h5.read_uint8("m/label_general") == std::vector<uint8_t>{2, 0, 1, 0, 0, 0});
  CHECK(h5.read_uint8("m/label_cc") == std::vector<uint8_t>{2, 0, 2, 0, 0, 0});
  CHECK(h5.read_int64("m/first_match_rank_general") == std::vector<int64_t>{2, 0});
  CHECK(h5.read_int64("m/first_match_rank_cc") == std::vector<int64_t>{2, 0});
}

TEST_CASE("a gallery shorter than top_k is listed whole and padded in the HDF5", "[analysis]") {
  const auto labels = qme::test::make_labels({{1}, {0}, {0}}, {{1, 2, 1}, {0, 1, 1}, {0, 0, 1}});
  const auto scores = qme::test::make_matrix(1, 3, {0.3f, kNaN, 0.3f});
  TempDir dir;
  qme::analysis::RankListWriter writer({dir.path("out"), 5, 0});
  writer.write_column("m", scores, labels);
  // np.argsort(-row): the tied 0.3s in index order (below 16 elements), NaN last.
  CHECK(read_text(dir.path("out/m.csv")) == std::string(kHeader) +
                                                "\n"
                                                "0,,0,1,0,0,0.300000012,junk,junk\n"
                                                "0,1,2,1,1,1,0.300000012,match,match\n"
                                                "0,2,1,2,1,0,nan,wrong,wrong\n");
  const qme::io::H5Reader h5(dir.path("out/rank_lists.h5"));
  CHECK(h5.read_int64("m/gallery_index") == std::vector<int64_t>{0, 2, 1, -1, -1});
  const auto score = h5.read_float32("m/score");
  REQUIRE(score.size() == 5);
  CHECK(score[0] == 0.3f);
  for (size_t t = 2; t < 5; ++t) CHECK(std::isnan(score[t]));
  CHECK(h5.read_uint8("m/label_general") == std::vector<uint8_t>{2, 1, 0, 255, 255});
}

TEST_CASE("top_k below 1 is a usage error naming --top_k", "[analysis]") {
  for (int top_k : {0, -3}) {
    const auto message = qme::test::message_of<qme::UsageError>([&] {
      qme::analysis::RankListWriter writer({"unused", top_k, 0});
    });
    CHECK(message.find("--top_k") != std::string::npos);
  }
}

TEST_CASE("first-match ranks give GR_top and CC_top exactly on scores with heavy ties", "[analysis]") {
  std::mt19937 gen(5);
  const auto labels = crowded_labels(60, 50, gen);
  qme::ModelScores scores{tied_scores(60, 50, gen), {}};
  scores.merge_score_mat =
      qme::ScoreMatrix(60, static_cast<int64_t>(labels.unique_gallery_pids.size()), 0.0f);
  check_column("tied", scores, labels, 20);
  check_column("tied", scores, labels, 3);

  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 12;
  spec.probes_per_subject = 3;
  spec.gallery_per_subject = 6;
  spec.distribution.quantum = 0.02;  // ties everywhere
  spec.distribution.faceless_fraction = 0.3;
  const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  for (const auto& [name, model] : synthetic.models) check_column(name, model, synthetic.labels, 20);
}

TEST_CASE("first-match ranks give GR_top and CC_top exactly on upstream's fixtures", "[analysis][parity]") {
  for (const std::string set : {"small", "small_nan", "medium"}) {
    const qme::formats::ScoreMatrixFile file(std::string(QME_FIXTURES_DIR) + "/eval/scoremats_" + set +
                                             ".h5");
    for (const auto& model : file.models())
      check_column(set + "_" + model, file.read_model(model), file.labels(), 20);
  }
}

TEST_CASE("run_tables writes the rank lists of every column it evaluates", "[analysis]") {
  TempDir dir;
  qme::synthetic::SyntheticScoreSpec spec;
  spec.num_subjects = 10;
  spec.probes_per_subject = 2;
  spec.gallery_per_subject = 4;
  spec.models = {"adaface", "cal-ccvid"};
  const auto synthetic = qme::synthetic::make_synthetic_scores(spec);
  auto options = qme::test::tables_on_file(dir, synthetic);
  options.baselines = qme::eval::all_fusion_methods();
  qme::analysis::RankListWriter writer({dir.path("ranks"), 4, 0});
  options.observers.push_back(writer.observer());
  const auto result = qme::pipeline::run_tables(options);

  std::vector<std::string> keys = result.models;
  for (const auto& f : result.fusion) keys.push_back(f.name);
  REQUIRE(keys.size() == 8);
  std::vector<std::string> expected_written;
  for (const auto& key : keys) {
    INFO(key);
    const auto csv = read_csv(dir.path("ranks/" + key + ".csv"));
    REQUIRE(!csv.empty());
    CHECK(read_text(dir.path("ranks/" + key + ".csv")).rfind(std::string(kHeader) + "\n", 0) == 0);
    CHECK(read_text(dir.path("ranks/" + key + "_first_match.csv"))
              .rfind(std::string(kFirstMatchHeader) + "\n", 0) == 0);
    CHECK(csv.size() > synthetic.labels.query.size());  // at least one row per probe
    expected_written.push_back(dir.path("ranks/" + key + ".csv"));
    expected_written.push_back(dir.path("ranks/" + key + "_first_match.csv"));
    if (expected_written.size() == 2) expected_written.push_back(dir.path("ranks/rank_lists.h5"));
  }
  CHECK(writer.written() == expected_written);
  const qme::io::H5Reader h5(dir.path("ranks/rank_lists.h5"));
  CHECK(h5.read_strings("columns") == keys);
  for (const auto& key : keys) {
    CHECK(h5.shape(key + "/gallery_index") == qme::io::Shape{synthetic.labels.query.size(), 4});
    CHECK(h5.shape(key + "/first_match_rank_cc") == qme::io::Shape{synthetic.labels.query.size()});
  }
}

TEST_CASE("no probes or no gallery give header-only files and empty HDF5 lists", "[analysis]") {
  for (int variant = 0; variant < 2; ++variant) {
    INFO("variant " << variant);
    const qme::IdentityLabels one = {{1}, {0}, {0}};
    const auto labels = variant == 0 ? qme::test::make_labels({}, one) : qme::test::make_labels(one, {});
    const qme::ScoreMatrix scores(static_cast<int64_t>(labels.query.size()),
                                  static_cast<int64_t>(labels.gallery.size()));
    TempDir dir;
    qme::analysis::RankListWriter writer({dir.path("out"), 2, 0});
    writer.write_column("m", scores, labels);
    CHECK(read_text(dir.path("out/m.csv")) == std::string(kHeader) + "\n");
    const std::string first_rows = variant == 0 ? "" : "0,,\n";
    CHECK(read_text(dir.path("out/m_first_match.csv")) == std::string(kFirstMatchHeader) + "\n" + first_rows);
    const qme::io::H5Reader h5(dir.path("out/rank_lists.h5"));
    CHECK(h5.shape("m/gallery_index") == qme::io::Shape{labels.query.size(), 2});
    if (variant == 1) CHECK(h5.read_int64("m/gallery_index") == std::vector<int64_t>{-1, -1});
  }
}

TEST_CASE("a column name that cannot name a file is refused", "[analysis]") {
  const auto labels = qme::test::make_labels({{1}, {0}, {0}}, {{1}, {1}, {0}});
  TempDir dir;
  qme::analysis::RankListWriter writer({dir.path("out"), 2, 0});
  for (const std::string key : {"", "fusion/zscore"}) {
    CHECK_THROWS_AS(writer.write_column(key, qme::ScoreMatrix(1, 1), labels), qme::Error);
  }
  CHECK(writer.written().empty());
}
