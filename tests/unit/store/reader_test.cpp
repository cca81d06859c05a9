// StoreReader: read-only, next to a live writer, after a writer was killed.
#define BOOST_TEST_MODULE store_reader
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "store/store.hpp"
#include "store_test_util.hpp"
#include "tests/requirements.hpp"

using namespace vigil;
using vigil::test::event;
using vigil::test::file_exists;
using vigil::test::options_for;
using vigil::test::read_bytes;
using vigil::test::sample;
using vigil::test::TempDir;

namespace {

// Forks a writer that flushes `n` samples and an event, then dies by SIGKILL
// with its connection open: the -wal and -shm files stay behind.
void write_then_get_killed(const std::string& path, int n) {
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    auto writer = StoreWriter::open(options_for(path), nullptr);
    if (!writer) ::_exit(2);
    std::vector<Sample> samples;
    for (int i = 0; i < n; ++i) samples.push_back(sample("m", {{"s", std::to_string(i % 4)}}, i, i));
    (*writer)->enqueue(std::move(samples));
    (*writer)->enqueue(event(1, EventKind::kDaemonStart, ""));
    if (!(*writer)->flush()) ::_exit(3);
    ::raise(SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_REQUIRE(WIFSIGNALED(status));
  BOOST_REQUIRE_EQUAL(WTERMSIG(status), SIGKILL);
}

void check_everything_readable(const std::string& path, std::uint64_t n) {
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  BOOST_TEST(reader->sample_count().value_or(0) == n);
  auto all = reader->query("m", {}, 0, 1'000'000);
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 4u);
  std::uint64_t total = 0;
  for (const auto& s : *all) total += s.points.size();
  BOOST_TEST(total == n);
  BOOST_TEST(reader->events({}).value_or(std::vector<Event>{}).size() == 1u);
}

}  // namespace

BOOST_AUTO_TEST_CASE(reads_while_the_writer_is_open) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  auto writer = StoreWriter::open(options_for(path), nullptr);
  BOOST_REQUIRE(writer);
  (*writer)->enqueue({sample("m", {}, 1, 1)});
  BOOST_REQUIRE((*writer)->flush());

  auto reader = StoreReader::open(path);
  BOOST_REQUIRE_MESSAGE(reader, vigil::test::why(reader));
  BOOST_TEST(reader->sample_count().value_or(0) == 1u);

  (*writer)->enqueue({sample("m", {}, 2, 2), sample("m", {}, 3, 3)});
  BOOST_REQUIRE((*writer)->flush());
  auto points = reader->query("m", {}, 0, 10);
  BOOST_REQUIRE(points);
  BOOST_REQUIRE_EQUAL(points->size(), 1u);
  BOOST_TEST(points->front().points.size() == 3u);
  BOOST_TEST(reader->last_sample_ms().value_or(std::nullopt).value_or(0) == 3);

  // A reader in the middle of a query does not block commits.
  (*writer)->enqueue({sample("m", {}, 4, 4)});
  BOOST_REQUIRE((*writer)->flush());
  BOOST_TEST(reader->sample_count().value_or(0) == 4u);

  // Moving keeps the connection.
  StoreReader moved = std::move(*reader);
  BOOST_TEST(moved.sample_count().value_or(0) == 4u);
}

BOOST_AUTO_TEST_CASE(reads_after_the_writer_was_killed) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  write_then_get_killed(path, 2000);
  BOOST_REQUIRE(file_exists(path + "-wal"));
  BOOST_REQUIRE(file_exists(path + "-shm"));
  const std::string main_before = read_bytes(path);
  const std::string wal_before = read_bytes(path + "-wal");
  check_everything_readable(path, 2000);
  // Read-only: the reader neither checkpointed nor wrote.
  BOOST_TEST(read_bytes(path) == main_before);
  BOOST_TEST(read_bytes(path + "-wal") == wal_before);
}

BOOST_AUTO_TEST_CASE(reads_after_a_kill_with_the_shm_file_missing) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  write_then_get_killed(path, 500);
  BOOST_REQUIRE(std::filesystem::remove(path + "-shm"));
  check_everything_readable(path, 500);
}

BOOST_AUTO_TEST_CASE(reads_a_cleanly_closed_store) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  {
    auto writer = StoreWriter::open(options_for(path), nullptr);
    BOOST_REQUIRE(writer);
    std::vector<Sample> samples;
    for (int i = 0; i < 100; ++i) samples.push_back(sample("m", {{"s", std::to_string(i % 4)}}, i, i));
    (*writer)->enqueue(std::move(samples));
    (*writer)->enqueue(event(1, EventKind::kDaemonStop, ""));
  }
  check_everything_readable(path, 100);
}

namespace {

// Reads the store as user nobody in a child process (the CLI run by another
// user than vigild's). Returns 0 when all `n` samples were read, 1 for a
// wrong count, 10 + ErrorKind when open() failed, 20 + ErrorKind when a
// query failed.
int read_as_nobody(const std::string& dir, const std::string& path, std::uint64_t n) {
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  for (const char* suffix : {"", "-wal", "-shm"}) {
    if (file_exists(path + suffix)) {
      std::filesystem::permissions(path + suffix, std::filesystem::perms(0644));
    }
  }
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(99);
    auto reader = StoreReader::open(path);
    if (!reader) ::_exit(10 + static_cast<int>(reader.error().kind));
    auto count = reader->sample_count();
    if (!count) ::_exit(20 + static_cast<int>(count.error().kind));
    ::_exit(*count == n ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

}  // namespace

VIGIL_REQUIREMENT("root", []() -> std::optional<std::string> {
  if (::geteuid() == 0) return std::nullopt;
  return std::string("needs root to read the store as another user (nobody)");
});

BOOST_AUTO_TEST_CASE(another_user_reads_a_cleanly_closed_store, *boost::unit_test::label("root")) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  {
    auto writer = StoreWriter::open(options_for(path), nullptr);
    BOOST_REQUIRE(writer);
    (*writer)->enqueue({sample("m", {}, 1, 1), sample("m", {}, 2, 2)});
  }
  BOOST_TEST(read_as_nobody(dir.path(), path, 2) == 0);
  // Without the (empty) -wal and -shm the file is read as immutable.
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  BOOST_TEST(read_as_nobody(dir.path(), path, 2) == 0);
}

BOOST_AUTO_TEST_CASE(another_user_reads_after_a_kill, *boost::unit_test::label("root")) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  write_then_get_killed(path, 300);
  BOOST_TEST(read_as_nobody(dir.path(), path, 300) == 0);
  // Committed data only in the -wal, and no -shm this user could create:
  // a clear error, never a silently incomplete read.
  std::filesystem::remove(path + "-shm");
  const int result = read_as_nobody(dir.path(), path, 300);
  BOOST_TEST(
      (result == 10 + static_cast<int>(ErrorKind::kIo) || result == 10 + static_cast<int>(ErrorKind::kPermission)));
}

BOOST_AUTO_TEST_CASE(missing_file_is_not_found) {
  TempDir dir;
  const std::string path = dir.file("nope.db");
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(!reader);
  BOOST_TEST((reader.error().kind == ErrorKind::kNotFound));
  BOOST_TEST(reader.error().message.find(path) != std::string::npos);
  BOOST_TEST(!file_exists(path));  // and not created
}

BOOST_AUTO_TEST_CASE(directory_is_refused) {
  TempDir dir;
  auto reader = StoreReader::open(dir.path());
  BOOST_REQUIRE(!reader);
  BOOST_TEST((reader.error().kind == ErrorKind::kInvalid));
}

BOOST_AUTO_TEST_CASE(foreign_database_is_not_a_vigil_store) {
  TempDir dir;
  const std::string path = dir.file("other.db");
  vigil::test::run_sql(path, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
  auto reader = StoreReader::open(path);
  BOOST_REQUIRE(!reader);
  BOOST_TEST((reader.error().kind == ErrorKind::kInvalid));
  BOOST_TEST(reader.error().message.find("is not a vigil store") != std::string::npos);

  const std::string empty = dir.file("empty.db");
  vigil::test::write_bytes(empty, "");
  auto empty_reader = StoreReader::open(empty);
  BOOST_REQUIRE(!empty_reader);
  BOOST_TEST((empty_reader.error().kind == ErrorKind::kNotFound));
  BOOST_TEST(empty_reader.error().message.find("is empty") != std::string::npos);
}
