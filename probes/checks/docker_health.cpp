// The docker_health check kind: a container target's container, judged
// from what the Docker watcher knows now (probes/docker/facts.hpp). No I/O
// of its own: the watcher keeps the facts current from the events stream,
// so a run ends at once, and a health_status event runs it at once.
#include <chrono>

#include "probes/checks/kinds.hpp"
#include "probes/docker/facts.hpp"

namespace vigil {

namespace {

// It has no keys of its own.
struct DockerHealthSettings {
  bool operator==(const DockerHealthSettings&) const = default;
};

class DockerHealthRunner : public CheckRunner {
 public:
  DockerHealthRunner(CheckContext& context, std::string target) : context_(context), target_(std::move(target)) {}
  bool busy() const override { return false; }
  void start(Done done) override {
    const auto began = std::chrono::steady_clock::now();
    CheckOutcome out;
    const ContainerLookup found = context_.container_of(target_);
    if (found.container == nullptr) {
      out.reason = found.problem;
    } else {
      const docker::HealthVerdict v = docker::judge_health(*found.container);
      out.ok = v.ok;
      out.reason = v.reason;
      out.timed_out = v.timed_out;
      out.values.push_back({"docker_health_failing_streak", {}, static_cast<double>(found.container->failing_streak)});
    }
    out.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    done(std::move(out));
  }

 private:
  CheckContext& context_;
  std::string target_;
};

void validate_docker_health(const CheckSpec& c, KeyProblems& p) {
  if (c.target.empty()) {
    p.missing("target", "a docker_health check belongs to a container target: write it as a [[target.check]]");
  }
}

}  // namespace

const CheckKindInfo& docker_health_check_kind() {
  static const CheckKindInfo info{
      CheckKind::kDockerHealth,
      "Judges the container its target follows (a container, container_label or compose_service target), from "
      "what the engine's events stream keeps current: passes while it runs and its HEALTHCHECK, if it has one, "
      "says starting or healthy; fails when it is unhealthy (with the last health check's output), paused, "
      "restarting or stopped. Every container target has one, named docker_health, unless it declares its own. "
      "A health_status event runs it at once. Samples docker_health_failing_streak.",
      {},
      [] { return KindSettings::of(DockerHealthSettings{}); },
      &validate_docker_health,
      [](CheckContext& context, const CheckSpec& c) -> std::unique_ptr<CheckRunner> {
        return std::make_unique<DockerHealthRunner>(context, c.target);
      },
  };
  return info;
}

}  // namespace vigil
