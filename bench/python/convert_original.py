"""Makes the installed original DummyMP 0.5b2 run under Python 3 by a
mechanical conversion of its files in place, and reports exactly what the
conversion changed.

    python convert_original.py

Run by bench/run.sh with the throwaway virtual environment's interpreter,
after `pip install dummymp==0.5b2` there; it edits only that environment's
copy of the package. Two steps, in this order:

1. 2to3 with its default fixers (``python -m lib2to3 --write --nobackups``;
   ``fissix``, the maintained fork of lib2to3, where lib2to3 is gone, as
   from Python 3.13).
2. The rules in ``RULES`` (regular expressions, one line each): what
   Python 3 needs beyond 2to3.

Then it checks that the converted package imports, says version 0.5b2 and
has every call the benchmarks make, and prints one JSON line: the tool, the
rules, and per file the lines removed and added. It exits non-zero, with
the reason on standard error, when any of that fails.
"""

import difflib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

EXPECTED_VERSION = "0.5b2"

# What Python 3 needs beyond 2to3: (name, pattern, replacement, why).
RULES = [
    (
        "imp-reload",
        re.compile(r"^([ \t]*)from imp import reload[ \t]*$", re.M),
        r"\1from importlib import reload",
        "the module imp is gone from Python 3.12 on and importlib.reload is the same function; "
        "2to3 rewrites the call to reload but leaves this import",
    ),
]

# Every call of the original's API that bench/python/original_bench.py makes.
API = [
    "DUMMYMP_GENEROUS", "DUMMYMP_NORMAL", "DUMMYMP_AGGRESSIVE", "DUMMYMP_EXTREME", "DUMMYMP_NUCLEAR",
    "reset", "run", "process_process", "process_queue", "process_until_done", "get_returns",
    "set_max_processes", "set_priority_mode", "set_start_callback", "set_end_callback", "killall",
    "get_version",
]


def fail(message):
    sys.exit("convert_original.py: " + message)


def package_dir():
    """The installed package's folder, found without importing it."""
    spec = importlib.util.find_spec("dummymp")
    if spec is None or not spec.submodule_search_locations:
        fail("no package dummymp is installed for %s" % sys.executable)
    return list(spec.submodule_search_locations)[0]


def sources(folder):
    """The package's Python files and their text."""
    out = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                out[name] = f.read()
    return out


def two_to_three_tool():
    """The module that runs 2to3 here, and its description."""
    for module in ("lib2to3", "fissix"):
        if importlib.util.find_spec(module) is not None:
            return module
    fail("neither lib2to3 nor fissix is importable (run.sh installs fissix where lib2to3 is gone)")


def run_2to3(module, folder):
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-m", module, "--write", "--nobackups", folder],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        fail("%s failed: %s" % (module, " / ".join(tail)))


def apply_rules(folder):
    """Applies RULES to every file; returns how often each matched."""
    hits = {name: 0 for name, _, _, _ in RULES}
    for name, text in sources(folder).items():
        new = text
        for rule, pattern, replacement, _ in RULES:
            new, count = pattern.subn(replacement, new)
            hits[rule] += count
        if new != text:
            with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
                f.write(new)
    return hits


def changes(before, after):
    """Per file, the lines removed and added (whitespace-only lines left out)."""
    out = []
    for name in sorted(after):
        old, new = before.get(name, "").splitlines(), after[name].splitlines()
        removed, added = [], []
        for line in difflib.ndiff(old, new):
            if line.startswith("- ") and line[2:].strip():
                removed.append(line[2:].strip())
            elif line.startswith("+ ") and line[2:].strip():
                added.append(line[2:].strip())
        if removed or added:
            out.append({"file": name, "removed": removed, "added": added})
    return out


def check(folder):
    """Imports the converted package in a fresh interpreter and checks it."""
    probe = (
        "import json, dummymp\n"
        "print(json.dumps({'version': dummymp.get_version(), 'file': dummymp.__file__,\n"
        "                  'missing': [n for n in %r if not hasattr(dummymp, n)]}))\n" % (API,)
    )
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", probe],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        fail("the converted package does not import: %s" % " / ".join(tail))
    info = json.loads(done.stdout.decode().strip().splitlines()[-1])
    if info["version"] != EXPECTED_VERSION:
        fail("dummymp says version %s, not %s" % (info["version"], EXPECTED_VERSION))
    if not info["file"].startswith(folder):
        fail("dummymp was imported from %s, not from %s" % (info["file"], folder))
    if info["missing"]:
        fail("the converted package lacks %s" % ", ".join(info["missing"]))


def main():
    folder = package_dir()
    before = sources(folder)
    module = two_to_three_tool()
    run_2to3(module, folder)
    hits = apply_rules(folder)
    # Byte code compiled at install time is stale now.
    shutil.rmtree(os.path.join(folder, "__pycache__"), ignore_errors=True)
    check(folder)
    version = getattr(importlib.import_module(module), "__version__", None) if module == "fissix" else None
    record = {
        "package": "dummymp %s" % EXPECTED_VERSION,
        "tool": "%s (%s%s)" % (
            module, "Python %d.%d.%d" % sys.version_info[:3], ", fissix %s" % version if version else ""),
        "rules": [{"name": name, "pattern": pattern.pattern, "replacement": replacement, "why": why,
                   "matched": hits[name]} for name, pattern, replacement, why in RULES],
        "changes": changes(before, sources(folder)),
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
