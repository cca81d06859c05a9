#!/usr/bin/env python3
"""The files ninja must build to run the `unit` and `fuzz` suites of a build
directory: each of their tests' executables and what they depend on (from
Meson's introspection). The sanitizer build (dev.sh) builds only these,
not vigild, the integration tests or the benchmarks.

Usage: targets.py BUILD_DIR [SUITE...]   (default: unit fuzz)
"""
import json
import os
import subprocess
import sys

build_dir = os.path.abspath(sys.argv[1])
suites = set(sys.argv[2:]) or {"unit", "fuzz"}


def introspect(what):
    return json.loads(subprocess.check_output(["meson", "introspect", build_dir, what]))


targets = {t["id"]: t for t in introspect("--targets")}
want = set()
for test in introspect("--tests") + introspect("--benchmarks"):
    if not suites & {s.split(":")[-1] for s in test["suite"]}:
        continue
    # A unit test runs its executable; a fuzz test runs python3 (run.py)
    # with the executable in its depends.
    if test["cmd"][0].startswith(build_dir + os.sep):
        want.add(os.path.relpath(test["cmd"][0], build_dir))
    for dep in test.get("depends", []):
        for f in targets.get(dep, {}).get("filename", []):
            want.add(os.path.relpath(f, build_dir))
if not want:
    sys.exit("targets.py: no test of the suites %s in %s" % (" ".join(sorted(suites)), build_dir))
print("\n".join(sorted(want)))
