"""Counts the tests of a run from its JUnit XML reports (Maven Surefire's and pytest's) and prints
one line, "N passed, N failed, N skipped", so a run's summary is a count and never an exit code.

usage: test_summary.py REPORT_OR_FOLDER...   (folders are searched for TEST-*.xml and *.xml)
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def reports(args):
    for a in args:
        p = Path(a)
        if p.is_dir():
            yield from sorted(p.rglob("TEST-*.xml"))
        elif p.is_file():
            yield p


def main(args):
    passed = failed = skipped = 0
    failures = []
    for report in reports(args):
        try:
            root = ET.parse(report).getroot()
        except ET.ParseError as e:
            failed += 1
            failures.append(f"{report}: unreadable report ({e})")
            continue
        for case in root.iter("testcase"):
            name = f"{case.get('classname', '?')}.{case.get('name', '?')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failures.append(name)
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    for f in failures:
        print(f"  failed: {f}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
