// core/log.hpp: the logging sink interface.
//
// Logs are structured: a level, a message for people and typed fields.
// core/ defines the interface and a JSON-lines writer; watchdog/ decides
// where it goes (stderr). probes/ never logs: it returns errors instead.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigil {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
const char* to_string(LogLevel level);
bool parse_log_level(std::string_view text, LogLevel* out);

struct LogField {
  std::string key;
  std::variant<std::string, std::int64_t, double, bool> value;

  LogField(std::string k, std::string v) : key(std::move(k)), value(std::move(v)) {}
  LogField(std::string k, const char* v) : key(std::move(k)), value(std::string(v)) {}
  LogField(std::string k, std::string_view v) : key(std::move(k)), value(std::string(v)) {}
  LogField(std::string k, std::int64_t v) : key(std::move(k)), value(v) {}
  LogField(std::string k, int v) : key(std::move(k)), value(std::int64_t{v}) {}
  LogField(std::string k, unsigned v) : key(std::move(k)), value(std::int64_t{v}) {}
  LogField(std::string k, std::uint64_t v)
      : key(std::move(k)), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string k, double v) : key(std::move(k)), value(v) {}
  LogField(std::string k, bool v) : key(std::move(k)), value(v) {}
};

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogLevel level, std::string_view msg, const std::vector<LogField>& fields) = 0;
};

// One JSON object per line on a file descriptor:
// {"ts":"2026-11-22T08:35:53.123Z","level":"info","msg":"...","target":"gateway"}
class JsonLineSink : public LogSink {
 public:
  explicit JsonLineSink(int fd) : fd_(fd) {}
  void write(LogLevel level, std::string_view msg, const std::vector<LogField>& fields) override;

 private:
  int fd_;
  std::mutex mu_;
};

// Process-wide logger; thread-safe. Without a sink set, logs go to stderr as
// JSON lines.
void set_log_sink(LogSink* sink);
void set_log_level(LogLevel level);
void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
inline void log_debug(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::kDebug, m, f);
}
inline void log_info(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::kInfo, m, f);
}
inline void log_warning(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::kWarning, m, f);
}
inline void log_error(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(LogLevel::kError, m, f);
}

// JSON string escaping (RFC 8259), without the surrounding quotes.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace vigil
