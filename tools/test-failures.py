#!/usr/bin/env python3
"""Print each failed test of a meson test log, with the end of its output.

    tools/test-failures.py STAGE BUILD-DIR [LINES]

run.sh collects these from every stage and prints them last, just above its
summary line: a CI service that keeps only the end of the output still shows
which test failed and why, whichever stage it ran in.
"""
import json
import os
import re
import sys

GOOD = {"OK", "SKIP", "EXPECTEDFAIL"}
# cmocka's lines for a test that began or passed: they name no failure.
PASSING = re.compile(r"^\[ +(RUN|OK) +\] ")


def main():
    stage, build = sys.argv[1], sys.argv[2]
    lines = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    path = os.path.join(build, "meson-logs", "testlog.json")
    try:
        log = open(path, encoding="utf-8", errors="replace")
    except OSError as e:
        print(f"{stage}: no test log ({e.strerror}: {path})")
        return
    with log:
        for raw in log:
            try:
                t = json.loads(raw)
            except ValueError:
                continue
            if t.get("result") in GOOD:
                continue
            print(f"{stage}: {t.get('name')}: {t.get('result')} "
                  f"(exit {t.get('returncode')}, {t.get('duration', 0):.1f} s)")
            # meson keeps stderr apart, and cmocka says what failed there.
            for key in ("stdout", "stderr"):
                out = [line for line in (t.get(key) or "").rstrip("\n").splitlines()
                       if not PASSING.match(line)]
                if not out:
                    continue
                print(f"  {key}:")
                if len(out) > lines:
                    print(f"    [... {len(out) - lines} earlier lines in {path}]")
                for line in out[-lines:]:
                    print("    " + line)

if __name__ == "__main__":
    main()
