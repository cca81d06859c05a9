#include "probes/checks/prometheus.hpp"

#include "probes/checks/kinds.hpp"
#include "probes/checks/prom_text.hpp"

namespace vigil {

namespace {

const PrometheusSettings& prometheus(const CheckSpec& c) {
  return c.settings.as<PrometheusSettings>();
}

void validate_prometheus(const CheckSpec& c, KeyProblems& p) {
  const PrometheusSettings& s = prometheus(c);
  validate_http_client(s, c, "prometheus", p);
  if (s.metrics.empty() && p.written("metrics")) {
    p.bad("metrics", "an empty allow-list keeps nothing: name metrics or globs, or [\"*\"] to keep all");
  } else if (s.metrics.empty()) {
    p.missing("metrics",
              "a prometheus check keeps only the metrics it names: set metrics = [\"name\", \"glob_*\"] "
              "(or [\"*\"] to keep all)");
  }
}

// The scraped series become the check's values; a malformed exposition
// fails the run, naming the line.
void scrape(const PrometheusSettings& s, const std::string& display_url, const HttpResult& r, CheckOutcome& out) {
  if (Reply status = judge_http_response(HttpCheckSettings{}, display_url, r); status.verdict != Reply::Verdict::kOk) {
    out.ok = false;
    out.reason = std::move(status.reason);
    return;
  }
  ScrapeLimits limits;
  limits.max_samples = static_cast<std::size_t>(s.max_samples);
  auto parsed = parse_exposition(r.body, s.metrics, limits);
  if (!parsed) {
    out.ok = false;
    out.reason = "cannot use the exposition from " + display_url + ": " + parsed.error().message;
    return;
  }
  for (auto& sample : parsed->samples) {
    out.values.push_back(CheckValue{std::move(sample.name), std::move(sample.labels), sample.value, true});
  }
  out.values.push_back({"scrape_samples_seen", {}, static_cast<double>(parsed->samples_seen)});
  out.values.push_back({"scrape_samples_kept", {}, static_cast<double>(parsed->samples_kept)});
  out.ok = true;
  out.reason =
      "scraped " + std::to_string(parsed->samples_kept) + " of " + std::to_string(parsed->samples_seen) + " samples";
}

std::unique_ptr<CheckRunner> make_prometheus_runner(CheckContext& context, const CheckSpec& c) {
  const PrometheusSettings s = prometheus(c);
  HttpRequest request = http_request(s, c.timeout);
  request.keep_body = true;
  const std::string display = redact_url(s.url);
  return make_http_runner(context, std::move(request),
                          [s, display](const HttpResult& r, CheckOutcome& out) { scrape(s, display, r, out); });
}

}  // namespace

const CheckKindInfo& prometheus_check_kind() {
  using S = PrometheusSettings;
  static const std::vector<Key<KindSettings>> keys = [] {
    auto k = http_client_keys<S>("a size from 1B to 256MiB, e.g. \"8MiB\" (default 8MiB; a larger body fails the run)");
    k.push_back(kind_key<&S::metrics>("metrics", ValueType::kStringList, 0, 0,
                                      "a list of metric names or globs to keep, e.g. [\"http_*\", \"up\"] (required)"));
    k.push_back(kind_key<&S::max_samples>("max_samples", ValueType::kCount, 1, 1'000'000,
                                          "an integer from 1 to 1000000: samples kept per scrape (default 10000)"));
    return k;
  }();
  static const CheckKindInfo info{
      CheckKind::kPrometheus,
      "Scrapes url (the service's own /metrics, Prometheus text format) and stores the series metrics names, "
      "labelled with the target (a scraped target label becomes exported_target); passes on a 2xx answer that "
      "parses. A malformed exposition fails the run naming the line. Samples scrape_samples_seen and "
      "scrape_samples_kept.",
      keys,
      [] { return KindSettings::of(PrometheusSettings{}); },
      &validate_prometheus,
      &make_prometheus_runner,
  };
  return info;
}

}  // namespace vigil
