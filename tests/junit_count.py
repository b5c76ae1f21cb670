#!/usr/bin/env python3
"""Count test results from machine-readable reports, for tests/run_all.sh.

    junit_count.py STAGE [--each] REPORT...

A REPORT is JUnit XML (ctest --output-junit, pytest --junitxml) or, when its
name ends in .json, libtest's JSON event stream (one JSON object a line;
other lines are ignored, since processes spawned by tests may write there).
Prints one "[STAGE] name: ..." line per test that did not pass (per test
with --each), then, as its last line, "PASSED FAILED SKIPPED".
A report that is missing or unreadable counts as one failure.

ctest marks each testcase with a status: "run" passed, "fail" failed,
"disabled" is a skip, and "notrun" is a skip only when the test asked for it
(SKIP_RETURN_CODE, SKIP_REGULAR_EXPRESSION): a missing executable or a
failed fixture is a failure, as ctest itself counts it. Other JUnit writers
(pytest) mark a testcase with a failure, error or skipped child.
"""
import json
import sys
import xml.etree.ElementTree as ET

PASSED, FAILED, SKIPPED = "passed", "FAILED", "skipped"


def junit_outcome(case):
    """(outcome, detail) of one <testcase>."""
    status = case.get("status")
    skip = case.find("skipped")
    if status is not None:  # ctest
        if status == "run":
            return PASSED, ""
        if status == "disabled":
            return SKIPPED, "disabled"
        why = skip.get("message", "") if skip is not None else ""
        if status == "notrun" and why.startswith("SKIP_"):
            return SKIPPED, why
        fail = case.find("failure")
        return FAILED, why or (fail.get("message", "") if fail is not None else status)
    for tag in ("failure", "error"):
        bad = case.find(tag)
        if bad is not None:
            return FAILED, (tag + ": " + bad.get("message", "")).strip()[:200]
    if skip is not None:
        return SKIPPED, skip.get("message", "")
    return PASSED, ""


def junit_results(path):
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name", "?")
        cls = case.get("classname")
        if cls and cls != name:
            name = cls + "::" + name
        outcome, detail = junit_outcome(case)
        yield name, outcome, detail, case.get("time")


LIBTEST_EVENTS = {"ok": PASSED, "failed": FAILED, "timeout": None, "ignored": SKIPPED}


def libtest_results(path):
    """Final events of libtest's --format json (test started/ok/failed/ignored)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if not isinstance(ev, dict) or ev.get("type") != "test":
                continue
            outcome = LIBTEST_EVENTS.get(ev.get("event"))
            if outcome:
                detail = ev.get("message") or ev.get("reason") or ""
                if outcome == FAILED and ev.get("stdout"):  # the captured output: its panic
                    detail = " | ".join(ev["stdout"].strip().splitlines()[-3:])[:300]
                yield ev.get("name", "?"), outcome, detail, ev.get("exec_time")


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: junit_count.py STAGE [--each] REPORT...")
    stage, reports = argv[1], argv[2:]
    each = "--each" in reports
    reports = [r for r in reports if r != "--each"]
    counts = {PASSED: 0, FAILED: 0, SKIPPED: 0}
    for path in reports:
        read = libtest_results if path.endswith(".json") else junit_results
        try:
            results = list(read(path))
        except (OSError, ET.ParseError) as e:
            print(f"[{stage}] {path}: FAILED (no readable report: {e})")
            counts[FAILED] += 1
            continue
        for name, outcome, detail, secs in results:
            counts[outcome] += 1
            if each or outcome != PASSED:
                extra = [x for x in (detail, f"{float(secs):.2f} s" if secs else "") if x]
                print(f"[{stage}] {name}: {outcome}" + (f" ({', '.join(extra)})" if extra else ""))
    print(counts[PASSED], counts[FAILED], counts[SKIPPED])


if __name__ == "__main__":
    main(sys.argv)
