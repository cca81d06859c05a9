// A corrupt store is moved aside at open and a new one is created.
#define BOOST_TEST_MODULE store_recovery
#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_CASE(garbage_file_is_moved_aside) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  const std::string junk = garbage(8192);
  write_bytes(path, junk);
  const std::string old_wal = garbage(100);
  write_bytes(path + "-wal", old_wal);
  write_bytes(path + "-shm", garbage(100));

  // Readers refuse it without touching it.
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(!reader);
  BOOST_TEST((reader.error().kind == ErrorKind::kCorrupt));

  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.recovered);
  BOOST_TEST(!report.created);
  BOOST_TEST(!report.corrupt_reason.empty());
  BOOST_TEST(is_moved_name(path, report.moved_to));
  BOOST_TEST(read_bytes(report.moved_to) == junk);
  // The -wal of the old file goes with it, untouched (it may hold good data).
  BOOST_TEST(read_bytes(report.moved_to + "-wal") == old_wal);
  BOOST_TEST(file_exists(report.moved_to + "-shm"));
  (*writer)->close();
  check_usable(path);
}

BOOST_AUTO_TEST_CASE(short_garbage_file_is_moved_aside) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  write_bytes(path, "hello, not a database\n");
  OpenReport report;
  auto writer = StoreWriter::open(options_for(path), &report);
  BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
  BOOST_TEST(report.recovered);
  BOOST_TEST(file_exists(report.moved_to));
}

// A whole page of garbage makes SQLite fail with SQLITE_CORRUPT; garbage in
// the cells of a page with an intact header makes quick_check report rows.
void overwrite_page_and_recover(std::size_t garbage_offset) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  {
    auto writer = StoreWriter::open(options_for(path), nullptr);
    BOOST_REQUIRE(writer);
    std::vector<Sample> samples;
    for (int i = 0; i < 20000; ++i) samples.push_back(sample("m", {{"s", std::to_string(i % 7)}}, i, i));
    (*writer)->enqueue(std::move(samples));
    BOOST_REQUIRE((*writer)->flush());
  }  // closed: the WAL is checkpointed into the file
  std::string bytes = read_bytes(path);
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
  for (int i = 0; i < 3; ++i) {
    write_bytes(path, garbage(4096 + static_cast<std::size_t>(i)));
    OpenReport report;
    auto writer = StoreWriter::open(options_for(path), &report);
    BOOST_REQUIRE_MESSAGE(writer, vigil::test::why(writer));
    BOOST_REQUIRE(report.recovered);
    BOOST_TEST(is_moved_name(path, report.moved_to));
    moved.push_back(report.moved_to);
    (*writer)->close();
    std::filesystem::remove(path);
  }
  BOOST_TEST(moved[0] != moved[1]);
  BOOST_TEST(moved[1] != moved[2]);
  BOOST_TEST(moved[0] != moved[2]);
  for (std::size_t i = 0; i < moved.size(); ++i) {
    BOOST_TEST(read_bytes(moved[i]).size() == 4096 + i);
  }
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
