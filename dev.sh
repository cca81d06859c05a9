#!/usr/bin/env bash
# Vigil developer entry point (Debian 12, as root).
#   ./dev.sh run     install what is missing, build, run vigild in the foreground
#                    on this host with data under ./var/ (Ctrl-C stops it)
#   ./dev.sh test    install what is missing, build, run every test, then the
#                    unit tests again under ASan+UBSan and each fuzz target
#                    for 30 s (clang, build-sanitize/); the last line is
#                    "N passed, N failed[, N skipped]"
#   ./dev.sh build   install what is missing and build
#   ./dev.sh bench [SUITE]   run the benchmarks (all, or one suite: spine, fuzz, ...)
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
# The unit tests again, under AddressSanitizer and UndefinedBehaviorSanitizer
# (any report fails the test), and the libFuzzer targets of tests/fuzz:
# `./dev.sh test` runs them after the others.
SANITIZE_DIR=${SANITIZE_DIR:-build-sanitize}
# The fuzz targets again, optimised, for `./dev.sh bench fuzz`.
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}

# Debian packages the build and the tests need.
PACKAGES=(
  meson ninja-build pkg-config g++ python3
  libsystemd-dev libsqlite3-dev libproc2-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libexpected-dev
  libboost-test-dev libcurl4-openssl-dev libssl-dev
  sqlite3
  # Real servers and tools the tests start: the http test server's TLS
  # certificates, Redis, PostgreSQL, Nagios plugins for exec checks.
  openssl redis-server postgresql monitoring-plugins-basic prometheus-alertmanager
  # The remediation test that boots Debian with systemd in a container.
  debootstrap systemd-container
  # The man pages' render test.
  groff-base
  # The Docker tests start their own engine; their image is Debian's static busybox.
  docker.io busybox-static
  # The sanitizer and fuzzing build: clang, and libFuzzer's runtime.
  clang libclang-rt-14-dev
)
# What only the benchmarks use: monit, vigild's yardstick in the spine suite.
BENCH_PACKAGES=(monit)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "dev.sh: missing packages: ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "dev.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# One configuration per build directory, set when it is made: warnings are
# errors (the code builds clean with Debian 12's compiler). A later command
# never reconfigures it, so `./dev.sh test` and `./dev.sh run` share one
# build and rebuild only what changed.
build() {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    # Without the benchmarks (minutes of compiling that `test` and `run`
    # do not use); `bench` turns them on.
    meson setup "$BUILD_DIR" -Dwerror=true -Dbenchmarks=false >/dev/null
  fi
  ninja -C "$BUILD_DIR" >/dev/null || ninja -C "$BUILD_DIR"
}

# Its own directory, compiler and options: clang, for libFuzzer (-Dfuzz=true);
# -O0 keeps its compile short (CI's budget). Only the unit tests, the fuzz
# targets and what they need are built. A directory configured otherwise
# (by an earlier dev.sh, with g++) is made again.
sanitize_build() {
  if [ -f "$SANITIZE_DIR/build.ninja" ] &&
    ! python3 -c 'import json, sys; o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}; sys.exit(0 if o.get("fuzz") else 1)' \
      "$SANITIZE_DIR/meson-info/intro-buildoptions.json" 2>/dev/null; then
    rm -rf "$SANITIZE_DIR"
  fi
  if [ ! -f "$SANITIZE_DIR/build.ninja" ]; then
    CXX=clang++ meson setup "$SANITIZE_DIR" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Doptimization=0 -Dfuzz=true "-Dcpp_args=-fno-sanitize-recover=all" >/dev/null
  fi
  local targets
  targets=$(python3 tests/unit/targets.py "$SANITIZE_DIR") || return 1
  # shellcheck disable=SC2086
  ninja -C "$SANITIZE_DIR" $targets >/dev/null || ninja -C "$SANITIZE_DIR" $targets
}

# The fuzz benchmarks' build: as the sanitizer build, but optimised (-O2), so
# that 10 M executions take minutes rather than hours; only the fuzz targets.
fuzz_bench_build() {
  if [ ! -f "$FUZZ_DIR/build.ninja" ]; then
    CXX=clang++ meson setup "$FUZZ_DIR" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Dfuzz=true "-Dcpp_args=-fno-sanitize-recover=all" >/dev/null
  fi
  local targets
  targets=$(python3 tests/unit/targets.py "$FUZZ_DIR" fuzz) || return 1
  # shellcheck disable=SC2086
  ninja -C "$FUZZ_DIR" $targets >/dev/null || ninja -C "$FUZZ_DIR" $targets
}

summary() {
  # Counts from meson's own logs (one JSON object per test): the main
  # build's, then the sanitizer build's, whose tests are named "sanitize: ...".
  python3 - "$BUILD_DIR/meson-logs/testlog.json" "$SANITIZE_DIR/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
for i, path in enumerate(sys.argv[1:]):
    prefix = "sanitize: " if i else ""
    try:
        with open(path) as f:
            lines = [l for l in f if l.strip()]
    except FileNotFoundError:
        print("no test log: " + path)
        counts["failed"] += 1
        continue
    for line in lines:
        t = json.loads(line)
        name = prefix + t.get("name", "?")
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            counts["passed"] += 1
        elif r == "SKIP":
            counts["skipped"] += 1
            # The binary printed why (tests/requirements.hpp).
            why = [l for l in (t.get("stdout") or "").splitlines() if l.startswith("SKIP")]
            print("skipped " + name + ": " + (why[0] if why else "no reason printed"))
        else:
            counts["failed"] += 1
            print("failed " + name + ": " + str(r))
line = f"{counts['passed']} passed, {counts['failed']} failed"
if counts["skipped"]:
    line += f", {counts['skipped']} skipped"
print(line)
PY
}

case "${1:-}" in
  run)
    install_missing
    build
    mkdir -p var
    echo "dev.sh: vigild with etc/vigil.toml, data in $PWD/var (Ctrl-C to stop)" >&2
    VIGIL_DAEMON_STATE_DIR="$PWD/var" exec "$BUILD_DIR/watchdog/vigild" --config etc/vigil.toml
    ;;
  test)
    install_missing
    if ! build; then
      echo "dev.sh: the build failed" >&2
      echo "0 passed, 1 failed"
      exit 1
    fi
    rc=0
    meson test -C "$BUILD_DIR" --print-errorlogs --num-processes 2 || rc=$?
    # A log of an earlier run must not stand in for this one.
    rm -f "$SANITIZE_DIR/meson-logs/testlog.json"
    echo "dev.sh: the unit tests under ASan and UBSan, and the fuzz targets ($SANITIZE_DIR)" >&2
    if sanitize_build; then
      meson test -C "$SANITIZE_DIR" --no-rebuild --suite unit --suite fuzz --print-errorlogs --num-processes 2 || rc=$?
    else
      echo "dev.sh: the sanitizer build failed" >&2
      rc=1
    fi
    summary
    exit $rc
    ;;
  build)
    install_missing
    build
    ;;
  bench)
    install_missing "${BENCH_PACKAGES[@]}"
    if [ "${2:-}" = fuzz ]; then
      fuzz_bench_build
      exec meson test -C "$FUZZ_DIR" --no-rebuild --benchmark --suite fuzz --verbose
    fi
    build
    meson configure "$BUILD_DIR" -Dbenchmarks=true >/dev/null
    ninja -C "$BUILD_DIR" >/dev/null || ninja -C "$BUILD_DIR"
    if [ -n "${2:-}" ]; then
      meson test -C "$BUILD_DIR" --benchmark --suite "$2" --verbose
    else
      meson test -C "$BUILD_DIR" --benchmark --verbose
    fi
    ;;
  *)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
