#!/usr/bin/env python3
"""The documentation cannot rot: what it shows is run, and what the code
defines is in it.

- Every TOML example (```toml blocks of the README, TOML between .nf and .fi
  in the man pages, etc/*.toml) passes the real `vigild --check-config` on
  its own: an example that names a target or check must define it.
- Every `vigil` command line of the README's ```sh blocks and the man
  pages' EXAMPLES parses (it may fail for want of a store, never as a usage
  error); every option of a synopsis line ("vigil events [--limit N]")
  is one that `vigil SUBCOMMAND --help` lists.
- Every option of every subcommand's --help is in vigil(1); every event kind
  `vigil events --help` lists is in vigil(1) and the README; every
  configuration key `vigild --help` lists is in the README.

Usage: examples_test.py SOURCE_ROOT VIGILD VIGIL
"""
import os
import re
import subprocess
import sys
import tempfile

root, vigild, vigil = sys.argv[1:4]
failures = []
counts = {"toml": 0, "commands": 0, "synopses": 0, "options": 0, "kinds": 0, "keys": 0}


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read(rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


# No VIGIL_ variable of the caller's may change what an example means.
env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def fenced(text, lang):
    """(line number, body) of each ```lang block."""
    out, body, start = [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if body is None and line.strip() == "```" + lang:
            body, start = [], n + 1
        elif body is not None and line.strip() == "```":
            out.append((start, "\n".join(body) + "\n"))
            body = None
        elif body is not None:
            body.append(line)
    return out


def roff_blocks(text):
    """(line number, body) of each .nf ... .fi block, roff escapes undone."""
    out, body, start = [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith(".nf"):
            body, start = [], n + 1
        elif line.startswith(".fi") and body is not None:
            out.append((start, "\n".join(body) + "\n"))
            body = None
        elif body is not None:
            body.append(line.replace("\\-", "-").replace("\\e", "\\"))
    return out


def help_of(*args):
    r = run([vigil, *args, "--help"])
    if r.returncode != 0:
        fail("vigil " + " ".join(args) + " --help exited " + str(r.returncode))
    return r.stdout


def long_options(help_text):
    return set(re.findall(r"^\s+(?:-\w,)?--([a-z][a-z-]*)", help_text, re.M)) - {"help"}


readme = read("README.md")
vigil_1 = read("man/vigil.1")
vigild_8 = read("man/vigild.8.in")

# ---- TOML examples ---------------------------------------------------------
examples = [("README.md", n, body) for n, body in fenced(readme, "toml")]
for page, text in (("man/vigil.1", vigil_1), ("man/vigild.8.in", vigild_8)):
    examples += [(page, n, body) for n, body in roff_blocks(text) if body.lstrip().startswith("[")]
for name in sorted(os.listdir(os.path.join(root, "etc"))):
    if name.endswith(".toml"):
        examples.append(("etc/" + name, 1, read("etc/" + name)))
if not any(src == "README.md" for src, _, _ in examples):
    fail("no ```toml block found in README.md")
with tempfile.TemporaryDirectory() as tmp:
    for src, line, body in examples:
        counts["toml"] += 1
        path = os.path.join(tmp, "example.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        r = run([vigild, "--check-config", "--config", path])
        if r.returncode != 0:
            fail("%s:%d: the example fails vigild --check-config:\n%s%s" % (src, line, r.stdout, r.stderr))

# ---- vigil command lines ---------------------------------------------------
subcommands = re.findall(r"^  ([a-z][a-z-]*) ", help_of().split("Subcommands:", 1)[-1], re.M)
if not subcommands:
    fail("vigil --help lists no subcommand")
command_lines = []
for n, body in fenced(readme, "sh"):
    for i, line in enumerate(body.splitlines()):
        command_lines.append(("README.md", n + i, line))
for n, body in roff_blocks(vigil_1):
    for i, line in enumerate(body.splitlines()):
        command_lines.append(("man/vigil.1", n + i, line))

with tempfile.TemporaryDirectory() as tmp:
    missing_db = os.path.join(tmp, "none", "vigil.db")
    for src, line, text in command_lines:
        text = re.sub(r"\s+#.*$", "", text.strip())
        if text.startswith("$ "):
            text = text[2:]
        # `vigil ...`, or the build tree's `build/cli/vigil ...`
        text = re.sub(r"^\S*/vigil ", "vigil ", text)
        if not text.startswith("vigil "):
            continue
        words = text.split()
        # The subcommand path: the words after "vigil" that are not options.
        path, i = [], 1
        while i < len(words) and not words[i].startswith("-") and not words[i].startswith("["):
            if words[i] in ("--db", "-c", "--config", "--format"):
                break
            path.append(words[i])
            i += 1
        if "[" in text or "|" in text.replace("'", ""):
            # A synopsis: its options must be the subcommand's.
            counts["synopses"] += 1
            sub = [w for w in path if re.fullmatch(r"[a-z][a-z-]*", w)]
            while sub and sub[0] not in subcommands:
                sub = sub[1:]
            known = long_options(help_of(*sub[:2])) if sub else set()
            if not sub:
                fail("%s:%d: no subcommand in %r" % (src, line, text))
            for opt in re.findall(r"--([a-z][a-z-]*)", text):
                if opt not in known and opt not in ("db", "config", "format"):
                    fail("%s:%d: %r shows --%s, which `vigil %s --help` does not list" %
                         (src, line, text, opt, " ".join(sub[:2])))
            continue
        counts["commands"] += 1
        argv = [vigil] + [w.strip("'\"") for w in words[1:]]
        if "--db" not in argv:
            argv += ["--db", missing_db]
        r = run(argv)
        # It ran (0, 1), or stopped at the store or the config it was not
        # given (2): never a usage error, a bad time, a crash.
        missing = re.search(r"cannot open the store|no vigil store|configuration|no such file|no check \"", r.stderr)
        if not (r.returncode in (0, 1) or (r.returncode == 2 and missing)):
            fail("%s:%d: %r is not a valid command (exit %d): %s" % (src, line, text, r.returncode, r.stderr.strip()))

# ---- what the code defines is documented -----------------------------------
for sub in subcommands:
    paths = [[sub]]
    nested = re.findall(r"^  ([a-z][a-z-]*) ", help_of(sub).split("Subcommands:", 1)[-1], re.M) \
        if "Subcommands:" in help_of(sub) else []
    paths += [[sub, n] for n in nested]
    for p in paths:
        for opt in long_options(help_of(*p)):
            counts["options"] += 1
            if "\\-\\-" + opt.replace("-", "\\-") not in vigil_1:
                fail("vigil.1 does not document --%s of `vigil %s`" % (opt, " ".join(p)))

events_help = help_of("events")
kinds_text = re.search(r"Kinds: ([a-z_, ]+)", events_help.replace("\n", " "))
if not kinds_text:
    fail("vigil events --help does not list the event kinds")
else:
    for kind in re.findall(r"[a-z_]+", kinds_text.group(1)):
        counts["kinds"] += 1
        if not re.search(r"(?<![a-z_])" + kind + r"(?![a-z_])", vigil_1):
            fail("vigil.1 does not list the event kind " + kind)
        if "`" + kind + "`" not in readme:
            fail("README.md does not list the event kind `%s`" % kind)

r = run([vigild, "--help"])
section = r.stdout.split("Configuration keys", 1)[-1].split("\n\n", 1)[0]
keys = set()
for line in section.splitlines()[1:]:
    names = line.split(":", 1)[-1].replace(", and the keys of one kind", "")
    names = re.sub(r"\([^)]*\)", "", names)  # a remark: "(no keys of its own)"
    keys.update(re.findall(r"\b[a-z][a-z_]*\b", names))
if not keys:
    fail("vigild --help lists no configuration key")
for key in sorted(keys):
    counts["keys"] += 1
    if not re.search(r"`%s`|^\s*#?\s*%s\s*=|[\s{,]%s\s*=" % (key, key, key), readme, re.M):
        fail("README.md does not mention the configuration key `%s`" % key)

print("docs: %d TOML examples, %d commands, %d synopses, %d options, %d event kinds, %d keys checked" %
      (counts["toml"], counts["commands"], counts["synopses"], counts["options"], counts["kinds"], counts["keys"]))
if failures:
    print("%d problems" % len(failures))
    sys.exit(1)
