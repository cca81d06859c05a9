// vigil db stats | check: what the store holds, and whether it is sound.
#include <unistd.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"

namespace vigil::cli {

namespace {

std::string when(const std::optional<WallMs>& t) {
  return t ? format_rfc3339_ms(*t) : "-";
}

std::string per_sample(std::uint64_t bytes, std::uint64_t samples, bool known) {
  if (!known || samples == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(bytes) / static_cast<double>(samples));
  return buf;
}

json optional_time(const std::optional<WallMs>& t) {
  return t ? json(*t) : json(nullptr);
}

int cmd_db_stats(const Options& c) {
  const Format f = c.parsed_format();
  StoreReader store = c.open();
  const StoreStats st = must(store.stats());
  if (f == Format::kJson) {
    auto tier = [&](std::uint64_t series, std::uint64_t samples, std::uint64_t bytes,
                    const std::optional<WallMs>& oldest, const std::optional<WallMs>& newest) {
      json j = {{"series", series}, {"samples", samples}, {"oldest_ms", optional_time(oldest)},
                {"newest_ms", optional_time(newest)}};
      j["bytes"] = st.bytes_known ? json(bytes) : json(nullptr);
      j["bytes_per_sample"] = st.bytes_known && samples > 0 ? json(static_cast<double>(bytes) / samples) : json(nullptr);
      return j;
    };
    json head = tier(st.head_series, st.head_samples, st.head_bytes, st.head_oldest, st.head_newest);
    json raw = tier(st.chunk_series, st.chunk_samples, st.chunk_bytes, st.chunk_oldest, st.chunk_newest);
    raw["chunks"] = st.chunks;
    raw["payload_bytes"] = st.chunk_payload_bytes;
    json tiers = {{"head", head}, {"raw", raw}};
    for (const auto& r : st.rollups) {
      tiers["rollup_" + format_duration(Millis(r.step_ms))] = {{"step_ms", r.step_ms},
                                                               {"rows", r.rows},
                                                               {"series", r.series},
                                                               {"payload_bytes", r.payload_bytes},
                                                               {"oldest_row_ms", optional_time(r.oldest)},
                                                               {"newest_row_ms", optional_time(r.newest)}};
    }
    std::cout << json{{"path", st.path},
                      {"file_bytes", st.file_bytes},
                      {"wal_bytes", st.wal_bytes},
                      {"page_size", st.page_size},
                      {"pages", st.pages},
                      {"free_pages", st.free_pages},
                      {"chunk_span_ms", st.chunk_span_ms},
                      {"series", st.series},
                      {"samples", st.head_samples + st.chunk_samples},
                      {"tiers", tiers},
                      {"rollup_bytes", st.bytes_known ? json(st.rollup_bytes) : json(nullptr)},
                      {"other_bytes", st.bytes_known ? json(st.other_bytes) : json(nullptr)},
                      {"events", st.events},
                      {"incidents", st.incidents},
                      {"outbox", st.outbox}}
                     .dump(2)
              << "\n";
    return 0;
  }
  if (f == Format::kCsv) throw UsageError{"vigil db stats prints table or json, not csv"};
  const std::uint64_t samples = st.head_samples + st.chunk_samples;
  std::cout << "store     " << st.path << "\n"
            << "file      " << human_bytes(static_cast<double>(st.file_bytes)) << " (-wal "
            << human_bytes(static_cast<double>(st.wal_bytes)) << "), " << st.free_pages << " free pages of "
            << st.pages << " ("
            << human_bytes(static_cast<double>(st.free_pages) * static_cast<double>(st.page_size))
            << " to reuse)\n"
            << "series    " << st.series << "\n"
            << "samples   " << samples << ", "
            << per_sample(st.file_bytes, samples, true) << " B/sample over the whole file\n\n";
  auto bytes = [&](std::uint64_t n) { return st.bytes_known ? human_bytes(static_cast<double>(n)) : "-"; };
  std::vector<std::vector<std::string>> rows = {
      {"head", std::to_string(st.head_series), std::to_string(st.head_samples), bytes(st.head_bytes),
       per_sample(st.head_bytes, st.head_samples, st.bytes_known), when(st.head_oldest), when(st.head_newest)},
      {"raw (" + std::to_string(st.chunks) + " chunks of " + human_ms(st.chunk_span_ms) + ")",
       std::to_string(st.chunk_series), std::to_string(st.chunk_samples), bytes(st.chunk_bytes),
       per_sample(st.chunk_bytes, st.chunk_samples, st.bytes_known), when(st.chunk_oldest), when(st.chunk_newest)}};
  // A rollup tier's bytes are its BLOBs'; OLDEST and NEWEST its rows' starts.
  for (const auto& r : st.rollups) {
    rows.push_back({human_ms(r.step_ms) + " rollup (" + std::to_string(r.rows) + " rows)", std::to_string(r.series),
                    "-", human_bytes(static_cast<double>(r.payload_bytes)), "-", when(r.oldest), when(r.newest)});
  }
  print_table({"TIER", "SERIES", "SAMPLES", "BYTES", "B/SAMPLE", "OLDEST", "NEWEST"}, rows);
  std::cout << "\nevents " << st.events << ", incidents " << st.incidents << ", outbox " << st.outbox
            << (st.bytes_known ? ", " + human_bytes(static_cast<double>(st.other_bytes)) + " with series and indexes"
                               : std::string())
            << "\n";
  if (!st.bytes_known) std::cout << "(bytes per table need SQLite's dbstat table, which this SQLite lacks)\n";
  return 0;
}

int cmd_db_check(const Options& c) {
  const Format f = c.parsed_format();
  if (f == Format::kCsv) throw UsageError{"vigil db check prints table or json, not csv"};
  StoreReader store = c.open();
  // A progress line on a terminal: a store of months has many chunks.
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  auto findings = must(store.check([&](std::uint64_t done, std::uint64_t total) {
    if (tty) std::cerr << "\rchecking chunks: " << done << "/" << total << std::flush;
  }));
  if (tty) std::cerr << "\r\033[K";
  if (f == Format::kJson) {
    std::cout << json{{"ok", findings.empty()}, {"findings", findings}}.dump(2) << "\n";
  } else if (findings.empty()) {
    std::cout << "ok: integrity_check passed and every chunk, rollup row and head row is as the store's rules say\n";
  } else {
    for (const auto& line : findings) std::cout << line << "\n";
    std::cout << findings.size() << (findings.size() == 1 ? " finding" : " findings")
              << " (queries leave out a chunk that does not decode, with a warning)\n";
  }
  return findings.empty() ? 0 : 1;
}

}  // namespace

std::vector<Command> add_db(CLI::App& app, const Options& options) {
  auto* sub = app.add_subcommand("db", "The store itself: its size by tier, and a check of its soundness");
  sub->require_subcommand(1);
  auto* stats = sub->add_subcommand(
      "stats", "Series, samples and bytes per tier (head, raw chunks), bytes per sample, file size, oldest and newest");
  auto* check = sub->add_subcommand(
      "check", "SQLite's integrity_check and the store's own rules (chunks decode, counts, windows); exit 1 on a finding");
  return {{stats, [&options] { return cmd_db_stats(options); }},
          {check, [&options] { return cmd_db_check(options); }}};
}

}  // namespace vigil::cli
