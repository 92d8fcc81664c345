"""Helpers of benchmarks/gpu_session.sh.

python benchmarks/gpu_session_report.py passed GRAPHS.xml TEST_ID   # exit 0 if that test passed
python benchmarks/gpu_session_report.py bench BENCH.json...         # one line per benchmark
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET


def passed(junit: str, test: str) -> bool:
    try:
        cases = list(ET.parse(junit).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        return False
    bad = ("failure", "error", "skipped")
    return any(c.get("name") == test and not [e for e in c if e.tag in bad] for c in cases)


def bench_lines(paths: list[str]) -> None:
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        for b in data["benchmarks"]:
            rate = b.get("extra_info", {}).get("steps_per_second", "")
            print(f"{b['name']:<62} median {b['stats']['median'] * 1e3:9.2f} ms  {rate} steps/s")


if __name__ == "__main__":
    if sys.argv[1] == "passed":
        sys.exit(0 if passed(sys.argv[2], sys.argv[3]) else 1)
    bench_lines(sys.argv[2:])
