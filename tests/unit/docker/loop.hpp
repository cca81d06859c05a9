// tests/unit/docker/loop.hpp: what the Docker tests drive: a real sd-event
// loop with libcurl's multi handle (CurlLoop) and a docker::Client.
#pragma once

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "core/sd_handles.hpp"
#include "net/curl_loop.hpp"
#include "probes/docker/client.hpp"

namespace vigil::testing {

using namespace std::chrono_literals;

inline std::string temp_dir() {
  std::random_device rd;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("vigil-docker-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

// An sd-event loop with a CurlLoop and a Client on `socket`.
struct Loop {
  explicit Loop(const std::string& socket, Millis timeout = 2000ms) {
    sd_event* e = nullptr;
    BOOST_TEST_REQUIRE(sd_event_new(&e) >= 0);
    event.reset(e);
    curl = std::make_unique<CurlLoop>(e);
    docker::ClientOptions o;
    o.socket = socket;
    o.timeout = timeout;
    o.max_body = 1 << 20;
    o.max_event_line = 4096;
    client = std::make_unique<docker::Client>(e, *curl, o);
  }
  ~Loop() {
    client.reset();
    curl.reset();
  }

  // Runs the loop until `done` holds (at most 30 s: a hang fails the case).
  void until(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
      BOOST_TEST_REQUIRE((std::chrono::steady_clock::now() < give_up), "the loop never got there");
      sd_event_run(event.get(), 100'000);
    }
  }

  Result<std::string> get(const std::string& path) {
    std::optional<Result<std::string>> out;
    client->get(path, [&](Result<std::string> r) { out = std::move(r); });
    until([&] { return out.has_value(); });
    return *out;
  }

  Result<std::string> post(const std::string& path, Millis timeout = Millis(0)) {
    std::optional<Result<std::string>> out;
    client->post(
        path, [&](Result<std::string> r) { out = std::move(r); }, timeout);
    until([&] { return out.has_value(); });
    return *out;
  }

  SdEventPtr event;
  std::unique_ptr<CurlLoop> curl;
  std::unique_ptr<docker::Client> client;
};

}  // namespace vigil::testing
