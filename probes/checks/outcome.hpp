// probes/checks/outcome.hpp: what one run of a check returns, whatever its kind.
//
// Every check kind (tcp, http, exec, redis, postgres, prometheus) ends a run
// with a CheckOutcome: up or down, a reason a person can act on, the run's
// duration, and the kind's own values (connect time, status code, perfdata,
// scraped metrics). The daemon adds the target and check labels and stores
// them; a probe never does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/sample.hpp"
#include "core/text.hpp"

namespace vigil {

// One kind-specific value. `labels` are added to {target, check} (for a
// prometheus scrape: the scraped labels, with `check` dropped, see there).
struct CheckValue {
  std::string metric;
  Labels labels;
  double value = 0;
  // A series scraped from the service (prometheus kind): it gets only the
  // target label (a scraped "target" label becomes "exported_target").
  bool scraped = false;
};

struct CheckOutcome {
  bool ok = false;
  // For people: "HTTP 503 from http://127.0.0.1:8080/health",
  // "timed out after 5s (connected, no first byte)", "connection refused".
  std::string reason;
  double total_seconds = 0;
  // The run's deadline ended it: the service did not answer in time (a hang
  // is told from a refusal by this, never by the reason's words).
  bool timed_out = false;
  std::vector<CheckValue> values;
  // Problems that did not decide the result (a malformed perfdata item);
  // the daemon logs each distinct one once.
  std::vector<std::string> warnings;
};

// How a request/response protocol over TCP judges what it has received so
// far (redis, postgres, a tcp banner). Pure: called with everything received
// since the connection opened.
struct Reply {
  enum class Verdict { kNeedMore, kOk, kFail };
  Verdict verdict = Verdict::kNeedMore;
  std::string reason;  // for kOk (optional, e.g. "PONG") and kFail (required)

  static Reply need_more() { return {}; }
  static Reply ok(std::string why = {}) { return {Verdict::kOk, std::move(why)}; }
  static Reply fail(std::string why) { return {Verdict::kFail, std::move(why)}; }
};

}  // namespace vigil
