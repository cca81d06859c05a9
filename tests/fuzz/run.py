#!/usr/bin/env python3
"""Run one libFuzzer target of tests/fuzz for the `fuzz` test suite or the
`fuzz` benchmark suite (tests/fuzz/meson.build registers both).

  run.py test  TARGET NAME WORK SEEDS...   fuzz for --seconds (30) on the
        seeds, the regression fixtures and what earlier runs in WORK found;
        fails on any crash, leak, timeout or sanitizer report, printing the
        input that caused it
  run.py bench TARGET NAME WORK SEEDS...   fuzz until --runs (10 M)
        executions, starting again after a crash, and print
        "figure fuzz_execs_NAME N count" and "figure fuzz_crashes_NAME N count"

A timeout whose input, run again alone, ends in time is not a failure
(libFuzzer's -timeout is wall-clock, and a busy machine can starve a run):
it is reported, and counted in the bench's fuzz_unreproduced_timeouts_NAME.

WORK keeps the corpus the fuzzer grew (WORK/corpus) and the inputs that
failed (WORK/artifacts); a failing input belongs in
tests/fuzz/regressions/NAME/ once fixed, so every later run replays it.
Missing seed directories are skipped.
"""
import argparse
import os
import re
import subprocess
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["test", "bench"])
parser.add_argument("target")
parser.add_argument("name")
parser.add_argument("work")
parser.add_argument("seeds", nargs="*")
parser.add_argument("--seconds", type=int, default=30)
parser.add_argument("--runs", type=int, default=10_000_000)
parser.add_argument("--max-len", type=int, default=0)
args = parser.parse_args()

corpus = os.path.join(args.work, "corpus")
artifacts = os.path.join(args.work, "artifacts")
os.makedirs(corpus, exist_ok=True)
os.makedirs(artifacts, exist_ok=True)
seeds = [s for s in args.seeds if os.path.isdir(s)]

common = [
    args.target,
    "-timeout=10",  # one input taking 10 s is a hang, reported as a failure
    "-rss_limit_mb=2048",
    "-error_exitcode=1",  # libFuzzer's default, 77, would read as "skipped"
    "-timeout_exitcode=1",
    "-print_final_stats=1",
    "-artifact_prefix=" + artifacts + "/",
]
if args.max_len:
    common.append("-max_len=%d" % args.max_len)


def run(extra):
    """Runs the fuzzer once; returns (exit status, executions, its output)."""
    proc = subprocess.run(common + extra + [corpus] + seeds, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace")
    m = re.search(r"^stat::number_of_executed_units:\s*(\d+)", proc.stdout, re.M)
    return proc.returncode, int(m.group(1)) if m else 0, proc.stdout


def failing_inputs(output):
    return re.findall(r"(?:Test unit written to|artifact_prefix='[^']*'; Test unit written to) (\S+)", output)


def unreproduced_timeout(output):
    """A run that stopped on a timeout whose input, run again alone, ends in
    time: the machine was too busy (libFuzzer's -timeout is wall-clock), not
    a slow input. Any other failure, or a timeout that comes back, is real."""
    if "ERROR: libFuzzer: timeout" not in output:
        return False
    inputs = failing_inputs(output)
    if not inputs:
        return False
    for path in inputs:
        again = subprocess.run(common + [path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
        if again.returncode != 0:
            return False
    print("fuzz %s: a timeout on %s did not come back when that input ran again alone (a busy machine); "
          "not counted as a failure" % (args.name, " ".join(inputs)))
    return True


def report_failure(output):
    lines = output.splitlines()
    print("\n".join(lines[-80:]))
    for path in failing_inputs(output):
        print("fuzz %s: failing input %s; once fixed, keep it: cp %s tests/fuzz/regressions/%s/"
              % (args.name, path, path, args.name))


if args.mode == "test":
    started = time.monotonic()
    rc, execs, output = run(["-max_total_time=%d" % args.seconds])
    seconds = time.monotonic() - started
    if rc != 0 and not unreproduced_timeout(output):
        report_failure(output)
        print("fuzz %s: FAILED (exit status %d) after %d executions" % (args.name, rc, execs))
        sys.exit(1)
    print("fuzz %s: %d executions in %.0f s, 0 failures, corpus %d inputs (%s)"
          % (args.name, execs, seconds, len(os.listdir(corpus)), corpus))
    sys.exit(0)

total = 0
crashes = 0
busy_timeouts = 0
started = time.monotonic()
while total < args.runs:
    rc, execs, output = run(["-runs=%d" % (args.runs - total)])
    total += execs
    if rc != 0 and unreproduced_timeout(output):
        busy_timeouts += 1
    elif rc != 0:
        crashes += 1
        report_failure(output)
    if execs == 0:
        # An input of the corpus itself fails (fuzzing again would fail
        # the same way), or the fuzzer printed no statistics.
        print("fuzz %s: no executions counted in a run; stopping" % args.name)
        crashes += 0 if rc != 0 else 1
        break
    print("fuzz %s: %d executions so far, %d failures, %.0f s" % (args.name, total, crashes, time.monotonic() - started),
          flush=True)
print("figure fuzz_execs_%s %d count" % (args.name, total))
print("figure fuzz_crashes_%s %d count" % (args.name, crashes))
print("figure fuzz_unreproduced_timeouts_%s %d count" % (args.name, busy_timeouts))
print("figure fuzz_exec_rate_%s %.0f per_second" % (args.name, total / max(time.monotonic() - started, 1e-9)))
sys.exit(1 if crashes else 0)
