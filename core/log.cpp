#include "core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>

#include "core/time.hpp"

namespace vigil {

namespace {
std::atomic<LogSink*> g_sink{nullptr};
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool parse_log_level(std::string_view text, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == to_string(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void append_json_escaped(std::string& out, std::string_view text) {
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void JsonLineSink::write(LogLevel level, std::string_view msg,
                         const std::vector<LogField>& fields) {
  std::string line = "{\"ts\":\"";
  line += format_rfc3339_ms(wall_now_ms());
  line += "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"msg\":\"";
  append_json_escaped(line, msg);
  line += '"';
  for (const auto& f : fields) {
    line += ",\"";
    append_json_escaped(line, f.key);
    line += "\":";
    if (auto* s = std::get_if<std::string>(&f.value)) {
      line += '"';
      append_json_escaped(line, *s);
      line += '"';
    } else if (auto* i = std::get_if<std::int64_t>(&f.value)) {
      line += std::to_string(*i);
    } else if (auto* d = std::get_if<double>(&f.value)) {
      if (std::isfinite(*d)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", *d);
        line += buf;
      } else {
        line += "null";
      }
    } else if (auto* b = std::get_if<bool>(&f.value)) {
      line += *b ? "true" : "false";
    }
  }
  line += "}\n";
  std::lock_guard lock(mu_);
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void set_log_sink(LogSink* sink) { g_sink.store(sink); }
void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  static JsonLineSink fallback(STDERR_FILENO);
  LogSink* sink = g_sink.load();
  (sink != nullptr ? sink : &fallback)->write(level, msg, std::vector<LogField>(fields));
}

}  // namespace vigil
