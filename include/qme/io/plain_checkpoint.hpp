#pragma once
/// A checkpoint's model state read without LibTorch, for programs that only need a few small
/// float32 tensors from it (qme_tables' QME column): the same zip directory checks
/// (torch_archive.hpp) and restricted unpickler (pickle_tree.hpp) as read_checkpoint, with every
/// record read as torch.save stores it, uncompressed. read_checkpoint (checkpoint.hpp) remains
/// the reader of record: it also inflates deflated records, and it is what a caller falls back
/// to when this one refuses a file.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "qme/io/pickle_tree.hpp"

namespace qme::io {

struct PlainTensor {
  StorageElement element = StorageElement::kFloat;
  std::vector<int64_t> sizes;
  std::vector<float> values;  ///< wanted float32 tensors: the elements, row-major; else empty
};

/// model_state_dict's entries in file order.
using PlainStateDict = std::vector<std::pair<std::string, PlainTensor>>;

/// Which entries' values a caller needs (by name); the others come with their shape only.
using WantedEntry = std::function<bool(const std::string& name)>;

/// Reads `path`'s "model_state_dict". Every storage record the pickle references is checked
/// (present, its size, its CRC), as read_checkpoint checks them, whether or not it is wanted:
/// the ones no wanted entry uses are checked in chunks and not kept (a head's few kB need not
/// cost the quality estimator's 10 MB). Throws InputError naming the file when it is not a
/// checkpoint read_checkpoint would read, when a record is compressed, or when
/// model_state_dict is missing or not a dict of tensors.
PlainStateDict read_plain_state_dict(const std::string& path, const WantedEntry& wanted = {});

}  // namespace qme::io
