#pragma once
/// CSV fields as qme writes them (plots' data, analyses): numbers that read back exactly, text
/// quoted only where it must be.
#include <string>

namespace qme::io {

/// The shortest of %.15g / %.16g / %.17g that reads back as the same double; NaN: empty.
std::string csv_number(double value);

/// `text` as a CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

}  // namespace qme::io
