"""scikit-learn's own MLP tests on chainrule's estimators: copies the installed scikit-learn's
``sklearn/neural_network/tests/test_mlp.py`` to a temporary folder, makes it import
``chainrule.sklearn``'s MLPClassifier and MLPRegressor instead of scikit-learn's, runs it with
pytest in a subprocess (with scikit-learn's conftest, which seeds ``global_random_seed``) and prints
one line per test. Exits 1 when a test fails that is not among the documented differences below,
2 when the file cannot be run at all.

    python benchmarks/sklearn_mlp_tests.py            # run and print the table
    python benchmarks/sklearn_mlp_tests.py --list     # the documented differences and their reasons
    python benchmarks/sklearn_mlp_tests.py -k lbfgs   # only the tests pytest's -k selects
"""

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # this checkout: its chainrule is the one tested
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SUBSTITUTE = "from chainrule.sklearn import MLPClassifier, MLPRegressor"

# Tests that cannot pass on chainrule's estimators, with why. Only differences of design belong
# here (a test that reads scikit-learn's private internals that chainrule's engine does not have);
# a missing feature is a bug to fix, never an entry.
DIFFERENCES: dict[str, str] = {}


def _test_file() -> Path:
    import sklearn

    path = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not path.is_file():
        raise SystemExit(f"error: scikit-learn {sklearn.__version__} at {path.parent} has no test_mlp.py "
                         "(installed without its tests)")
    return path


def _substituted(source: str) -> str:
    if source.count(IMPORT) != 1:
        raise SystemExit(f"error: test_mlp.py no longer holds the line {IMPORT!r} exactly once; "
                         "update IMPORT in this script")
    return source.replace(IMPORT, SUBSTITUTE)


def _reason(element) -> str:
    """The first line of pytest's message for a failure, error or skip, shortened for the table."""
    message = (element.get("message") or element.text or "").strip()
    line = message.splitlines()[0] if message else element.tag
    return line if len(line) <= 100 else line[:97] + "..."


def _results(junit: Path) -> list:
    """(test id, 'passed' | 'failed' | 'error' | 'skipped', reason) for every test pytest ran."""
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, reason = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, reason = {"failure": "failed"}.get(child.tag, child.tag), _reason(child)
                break
        rows.append((case.get("name"), outcome, reason))
    return rows


def run(select: str | None = None, keep: bool = False) -> int:
    source = _test_file()
    folder = Path(tempfile.mkdtemp(prefix="sklearn_mlp_tests_"))
    (folder / "test_mlp.py").write_text(_substituted(source.read_text()))
    (folder / "pytest.ini").write_text("[pytest]\n")  # keeps pytest from reading a project's settings above
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    where = subprocess.run([sys.executable, "-c", "import chainrule, sklearn; print(chainrule.__file__, "
                            "sklearn.__version__)"], env=env, cwd=folder, capture_output=True, text=True)
    print(f"{source}\nchainrule and scikit-learn: {where.stdout.strip() or where.stderr.strip()}")
    junit = folder / "results.xml"
    command = [sys.executable, "-m", "pytest", "-p", "sklearn.conftest", "-p", "no:cacheprovider", "-q",
               "--tb=line", f"--junitxml={junit}", "test_mlp.py"]
    if select:
        command += ["-k", select]
    done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
    if not junit.exists():
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
        print("error: pytest wrote no results")
        return 2
    rows = _results(junit)
    width = max((len(name) for name, _, _ in rows), default=10)
    print(f"\n{'test':{width}s}  {'result':9s}  reason")
    unexpected, documented, fixed = [], [], []
    for name, outcome, reason in rows:
        mark = outcome
        if outcome in ("failed", "error"):
            if name in DIFFERENCES:
                documented.append(name)
                mark = f"{outcome}*"  # documented difference
            else:
                unexpected.append(name)
                mark = outcome.upper()
        elif outcome == "passed" and name in DIFFERENCES:
            fixed.append(name)
        print(f"{name:{width}s}  {mark:9s}  {reason}")
    counts = {k: sum(o == k for _, o, _ in rows) for k in ("passed", "failed", "error", "skipped")}
    ran = len(rows) - counts["skipped"]
    print(f"\n{counts['passed']} of {ran} pass ({counts['skipped']} skipped, of {len(rows)} collected); "
          f"{len(documented)} documented differences (*), {len(unexpected)} other failures")
    for name in fixed:
        print(f"note: {name} passes now: take it out of DIFFERENCES")
    if keep:
        print(f"kept {folder}")
    return 1 if unexpected else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the documented differences and exit")
    parser.add_argument("-k", dest="select", help="pytest's -k expression: run only the tests it selects")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (results.xml)")
    args = parser.parse_args(argv)
    if args.list:
        for name, reason in DIFFERENCES.items():
            print(f"{name}: {reason}")
        if not DIFFERENCES:
            print("no documented differences")
        return 0
    return run(args.select, args.keep)


if __name__ == "__main__":
    sys.exit(main())
