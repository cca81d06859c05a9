// A corrupt vigil store is moved aside at open and a new one is created;
// anything that is not a vigil store is refused and left exactly as it was.
#define BOOST_TEST_MODULE store_recovery
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "store/schema.hpp"
#include "store/store.hpp"
#include "store_test_util.hpp"

using namespace vigil;
using vigil::test::TempDir;
using vigil::test::file_exists;
using vigil::test::options_for;
using vigil::test::read_bytes;
using vigil::test::sample;
using vigil::test::write_bytes;

namespace {

void check_usable(const std::string& path) {
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  (*writer)->enqueue({sample("m", {{"k", "v"}}, 10, 42)});
  BOOST_REQUIRE((*writer)->flush());
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  auto points = reader->query("m", {}, 0, 100);
  BOOST_REQUIRE(points);
  BOOST_REQUIRE_EQUAL(points->size(), 1u);
  BOOST_REQUIRE_EQUAL(points->front().points.size(), 1u);
  BOOST_TEST(points->front().points[0].value == 42.0);
}

std::string garbage(std::size_t n) {
  std::string out(n, '\0');
  std::uint32_t x = 12345;
  for (auto& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// "<path>.corrupt-yyyymmddTHHMMSSZ" with an optional ".N".
bool is_moved_name(const std::string& path, const std::string& moved) {
  const std::string prefix = path + ".corrupt-";
  if (moved.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string stamp = moved.substr(prefix.size(), 16);
  return stamp.size() == 16 && stamp[8] == 'T' && stamp[15] == 'Z';
}

}  // namespace

namespace {

// The file and its -wal and -shm, byte for byte.
struct Snapshot {
  std::string db, wal, shm;
  explicit Snapshot(const std::string& path)
      : db(read_bytes(path)),
        wal(file_exists(path + "-wal") ? read_bytes(path + "-wal") : "<none>"),
        shm(file_exists(path + "-shm") ? read_bytes(path + "-shm") : "<none>") {}
  bool operator==(const Snapshot&) const = default;
};

void refused_untouched(const std::string& path, const std::string& expected_words) {
  const Snapshot before(path);
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE(!writer);
  BOOST_TEST_MESSAGE(writer.error().message);
  BOOST_TEST((writer.error().kind == ErrorKind::kInvalid));
  BOOST_TEST(writer.error().message.find(path + " is not a vigil store") != std::string::npos);
  BOOST_TEST(writer.error().message.find(expected_words) != std::string::npos);
  BOOST_TEST(writer.error().message.find("left untouched") != std::string::npos);
  BOOST_TEST(!report.recovered);
  BOOST_TEST((Snapshot(path) == before));
  // No sibling was created (no .corrupt-*, no -journal).
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    ++entries;
  }
  BOOST_TEST(entries == 1u + (before.wal != "<none>") + (before.shm != "<none>"));

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(!reader);
  BOOST_TEST(reader.error().message.find(path + " is not a vigil store") != std::string::npos);
  BOOST_TEST(reader.error().message.find("SELECT") == std::string::npos);  // no raw SQL
  BOOST_TEST((Snapshot(path) == before));
}

// A vigil store with rows, closed (checkpointed into the file).
std::string make_store(const std::string& path, int rows = 20000) {
  {
    auto writer = StoreWriter::open(options_for(path), nullptr);
    BOOST_REQUIRE(writer);
    std::vector<Sample> samples;
    for (int i = 0; i < rows; ++i) samples.push_back(sample("m", {{"s", std::to_string(i % 7)}}, i, i));
    (*writer)->enqueue(std::move(samples));
    BOOST_REQUIRE((*writer)->flush());
  }
  return read_bytes(path);
}

}  // namespace

BOOST_AUTO_TEST_CASE(garbage_file_is_refused_and_left_untouched) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  write_bytes(path, garbage(8192));
  write_bytes(path + "-wal", garbage(100));
  write_bytes(path + "-shm", garbage(100));
  refused_untouched(path, "not a SQLite database: binary data");
}

BOOST_AUTO_TEST_CASE(text_file_is_refused_and_left_untouched) {
  TempDir dir;
  const std::string path = dir.file("notes.txt");
  write_bytes(path, "hello, not a database\nsecond line\n");
  refused_untouched(path, "text starting \"hello, not a database se...\"");
  // UTF-8 text is text.
  TempDir other;
  const std::string utf8 = other.file("résumé.txt");
  write_bytes(utf8, "Grüße aus Köln\n");
  refused_untouched(utf8, "text starting \"Grüße aus Köln \"");
}

BOOST_AUTO_TEST_CASE(another_applications_database_is_refused_and_left_untouched) {
  TempDir dir;
  const std::string path = dir.file("app.db");
  vigil::test::run_sql(path, "CREATE TABLE users(name TEXT); INSERT INTO users VALUES('ann');"
                             "CREATE TABLE orders(id INTEGER);");
  refused_untouched(path, "tables: orders, users");

  // In WAL mode.
  TempDir wal_dir;
  const std::string wal = wal_dir.file("wal.db");
  vigil::test::run_sql(wal, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);");
  refused_untouched(wal, "tables: t");

  // With its own application id (a Fossil repository, say).
  TempDir marked_dir;
  const std::string marked = marked_dir.file("marked.db");
  vigil::test::run_sql(marked, "PRAGMA application_id = 252006673; CREATE TABLE t(x);");
  refused_untouched(marked, "application_id 0x0F055111");
}

BOOST_AUTO_TEST_CASE(damaged_vigil_header_is_moved_aside) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  std::string bytes = make_store(path, 10);
  bytes.replace(0, 16, garbage(16));  // the magic, not the application id
  write_bytes(path, bytes);
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.recovered);
  BOOST_TEST(!report.created);
  BOOST_TEST(report.corrupt_reason == "its SQLite header is damaged");
  BOOST_TEST(is_moved_name(path, report.moved_to));
  BOOST_TEST(read_bytes(report.moved_to) == bytes);
  (*writer)->close();
  check_usable(path);
}

BOOST_AUTO_TEST_CASE(store_from_before_the_application_id_is_recognised_and_marked) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  make_store(path, 10);
  vigil::test::run_sql(path, "PRAGMA application_id = 0;");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(!report.recovered);
  BOOST_TEST((*writer)->stats().series == 7u);
  (*writer)->close();
  const std::string head = read_bytes(path).substr(0, 100);
  BOOST_TEST((vigil::store_detail::classify_header(head) == vigil::store_detail::HeaderVerdict::kVigil));
}

BOOST_AUTO_TEST_CASE(header_classification) {
  using vigil::store_detail::classify_header;
  using V = vigil::store_detail::HeaderVerdict;
  std::string sqlite("SQLite format 3\0", 16);
  sqlite.resize(100, '\0');
  BOOST_TEST((classify_header("") == V::kEmpty));
  BOOST_TEST((classify_header("hello") == V::kNotSqlite));
  BOOST_TEST((classify_header(sqlite) == V::kUnmarked));
  BOOST_TEST((classify_header(sqlite.substr(0, 50)) == V::kNotSqlite));  // cut off
  std::string ours = sqlite;
  ours.replace(68, 4, "VIGL");
  BOOST_TEST((classify_header(ours) == V::kVigil));
  std::string damaged = ours;
  damaged.replace(0, 6, "XXXXXX");
  BOOST_TEST((classify_header(damaged) == V::kDamagedVigil));
  std::string other = sqlite;
  other.replace(68, 4, "abcd");
  BOOST_TEST((classify_header(other) == V::kOtherApplication));
}

// A whole page of garbage makes SQLite fail with SQLITE_CORRUPT; garbage in
// the cells of a page with an intact header makes quick_check report rows.
void overwrite_page_and_recover(std::size_t garbage_offset) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  std::string bytes = make_store(path);
  const std::size_t page = 4096;
  BOOST_REQUIRE(bytes.size() > 20 * page);
  const std::size_t victim = (bytes.size() / page / 2) * page + garbage_offset;
  bytes.replace(victim, page - garbage_offset, garbage(page - garbage_offset));
  write_bytes(path, bytes);

  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.recovered);
  BOOST_TEST_MESSAGE("corrupt_reason: " << report.corrupt_reason);
  BOOST_TEST(!report.corrupt_reason.empty());
  BOOST_TEST(read_bytes(report.moved_to) == bytes);
  BOOST_TEST((*writer)->stats().series == 0u);
  (*writer)->close();
  check_usable(path);
}

BOOST_AUTO_TEST_CASE(overwritten_page_is_moved_aside) { overwrite_page_and_recover(0); }

BOOST_AUTO_TEST_CASE(garbage_cells_fail_quick_check_and_are_moved_aside) {
  overwrite_page_and_recover(2048);
}

BOOST_AUTO_TEST_CASE(second_recovery_gets_its_own_name) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  std::vector<std::string> moved;
  std::vector<std::string> damaged;
  for (int i = 0; i < 3; ++i) {
    std::string bytes = make_store(path, 10 + i);
    bytes.replace(0, 16, garbage(16));
    write_bytes(path, bytes);
    damaged.push_back(bytes);
    OpenReport report;
    auto writer = StoreWriter::open(options_for(path), &report);
    BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
    BOOST_REQUIRE(report.recovered);
    BOOST_TEST(is_moved_name(path, report.moved_to));
    moved.push_back(report.moved_to);
    (*writer)->close();
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
  BOOST_TEST(moved[0] != moved[1]);
  BOOST_TEST(moved[1] != moved[2]);
  BOOST_TEST(moved[0] != moved[2]);
  for (std::size_t i = 0; i < moved.size(); ++i) BOOST_TEST(read_bytes(moved[i]) == damaged[i]);
}

BOOST_AUTO_TEST_CASE(healthy_store_is_not_moved) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  check_usable(path);
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE(writer);
  BOOST_TEST(!report.recovered);
  BOOST_TEST(report.moved_to.empty());
  BOOST_TEST(report.corrupt_reason.empty());
}
