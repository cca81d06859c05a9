// cli/output.hpp: the three output formats and the formatting every command shares.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/kinds.hpp"
#include "core/sample.hpp"
#include "core/time.hpp"

namespace vigil {

// A kind in JSON is its stored name, never the enum's number (found by
// argument-dependent lookup for every enum of core/kinds.hpp).
template <Kind E>
void to_json(nlohmann::json& j, E e) {
  j = std::string(to_string(e));
}

}  // namespace vigil

namespace vigil::cli {

using nlohmann::json;

// Integers without a fraction, others to 6 significant digits.
std::string format_value(double v);
// A CSV field, quoted when it holds a comma, a quote or a newline.
std::string csv_field(std::string_view s);
json labels_json(const Labels& labels);
// Rows as aligned columns under a header.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// "1.5 MiB"
std::string human_bytes(double bytes);
// "5m ago"
std::string ago(WallMs then, WallMs now);
// Nearest rank; NaN for no values.
double percentile(std::vector<double> values, double q);
std::string label_of(const Labels& labels, const std::string& name);
// "12 ms", "0.35 ms", "-" for NaN.
std::string format_ms(double seconds);
// A time to detect or to recover: "450ms", "1.2s", "5m30s", "2h5m".
std::string human_ms(WallMs ms);

}  // namespace vigil::cli
