#!/usr/bin/env python3
"""The files ninja must build to run the `unit` suite of a build directory:
each unit test's executable and what it depends on (from Meson's
introspection). The sanitizer build (dev.sh) builds only these, not
vigild, the integration tests or the benchmarks.

Usage: targets.py BUILD_DIR
"""
import json
import os
import subprocess
import sys

build_dir = os.path.abspath(sys.argv[1])


def introspect(what):
    return json.loads(subprocess.check_output(["meson", "introspect", build_dir, what]))


targets = {t["id"]: t for t in introspect("--targets")}
want = set()
for test in introspect("--tests"):
    if "unit" not in [s.split(":")[-1] for s in test["suite"]]:
        continue
    want.add(os.path.relpath(test["cmd"][0], build_dir))
    for dep in test.get("depends", []):
        for f in targets.get(dep, {}).get("filename", []):
            want.add(os.path.relpath(f, build_dir))
if not want:
    sys.exit("targets.py: no unit test in " + build_dir)
print("\n".join(sorted(want)))
