#pragma once
/// How error messages show a tensor's shape: "[2, 3]" (or "undefined").
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <string>

namespace qme::io {

std::string shape_text(at::IntArrayRef sizes);
std::string shape_text(const at::Tensor& tensor);

}  // namespace qme::io
