// probes/checks/prometheus.hpp: the prometheus check kind: scrape the
// service's own /metrics (prom_text.hpp parses it) and keep what the
// allow-list names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "probes/checks/http.hpp"

namespace vigil {

struct PrometheusSettings : HttpClientFields {
  PrometheusSettings() { max_body = 8u << 20; }
  std::vector<std::string> metrics;  // allow-list: names or globs
  std::int64_t max_samples = 10000;
  bool operator==(const PrometheusSettings&) const = default;
};

}  // namespace vigil
