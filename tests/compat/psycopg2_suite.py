#!/usr/bin/env python3
"""Scores our psycopg2 shim against the real psycopg2 with psycopg2's own test suite
(shared/design/compatibility.md).

    tests/compat/psycopg2_suite.py                       # reference + shim under plain python
    tests/compat/psycopg2_suite.py --runtime both        # ... and the shim under `puff python`
    tests/compat/psycopg2_suite.py --modules test_sql test_quote --reuse-reference
    tests/compat/psycopg2_suite.py --update-known        # write today's differences (reason TODO)

Fetches psycopg2's sdist (the version pinned in requirements-psycopg2-ref.txt) and a reference
venv with psycopg2-binary of that version into tests/compat/.cache/, starts a throwaway
PostgreSQL unless TEST_POSTGRES_URL is set, and runs the suite's modules once per
interpreter in a fresh database, each test's outcome recorded by this file's own result
collector (`psycopg2_suite.py child ...`, or `puff python psycopg2_suite:child_main ...`).
ratio = tests passing under both / tests passing under the reference. Every reference pass the
shim does not pass must be listed in psycopg2_known_failures.txt. Exits 1 when a run scores
below 95% or has an unexplained difference, 2 when a run could not be set up or completed.
"""
import argparse
import faulthandler
import hashlib
import importlib
import json
import os
import re
import shutil
import signal
import sys
import tarfile
import tempfile
import traceback
import types
import unittest
import warnings
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from suite_common import (  # noqa: E402  (this folder is on sys.path: the runner's own)
    MAIN_PYTHON,
    PASSING,
    Messages,
    bucket,
    differences,
    read_known,
    run_with_restarts,
)

_messages = Messages("psycopg2 suite")
say, fail, run_quiet, postgres_server = (
    _messages.say, _messages.fail, _messages.run_quiet, _messages.postgres_server)

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "tests" / "compat"
CACHE = COMPAT / ".cache"
SOURCE_CACHE = CACHE / "psycopg2"  # sdist tarball and psycopg2-X/tests/
REF_VENV = CACHE / "venv-psycopg2-ref"
RESULTS = CACHE / "psycopg2-results"  # per run: .json outcomes, .log output, .events.jsonl
KNOWN_FILE = COMPAT / "psycopg2_known_failures.txt"
REF_REQUIREMENTS = COMPAT / "requirements-psycopg2-ref.txt"
SELF = Path(__file__).resolve()

MODULES = ["test_psycopg2_dbapi20", "test_connection", "test_cursor", "test_transaction",
           "test_with", "test_dates", "test_types_basic", "test_types_extras", "test_quote",
           "test_sql", "test_errors", "test_errcodes", "test_copy", "test_notify"]
THRESHOLD = 0.95
TEST_DB = "psycopg2_test"
SHOWN_DIFFERENCES = 40


# --- the child: runs the suite's modules in this process and records every outcome -------------
# Stdlib only: it runs under the reference venv's python, the shim's python and `puff python`.
# Events, one JSON object a line, flushed per test so a killed run still leaves what it did:
# {"e": "start", "id"}, {"e": "result", "id", "outcome", "detail", "traceback"}, {"e": "done"}.
# Outcomes: pass, fail, error, skip, xfail (expected failure), xpass (unexpected success);
# the parent adds hang and crash for a test its process did not survive.

# When one test reports several things (subtests), the worst one is its outcome.
_SEVERITY = {"skip": 0, "pass": 1, "xfail": 1, "xpass": 2, "fail": 3, "error": 4}


def _first_line(err):
    lines = traceback.format_exception_only(err[0], err[1])
    return (lines[-1].strip() if lines else repr(err[1]))[:300]


def _full_traceback(err):
    return "".join(traceback.format_exception(*err))[-4000:]


def _write_event(events, **event):
    events.write(json.dumps(event) + "\n")
    events.flush()


class _RecordingResult(unittest.TextTestResult):
    events = None  # the open events file
    hang_seconds = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending = {}  # test id -> (outcome, detail, traceback) until stopTest

    def _write(self, **event):
        _write_event(self.events, **event)

    def _note(self, test, outcome, err=None, detail=""):
        case = getattr(test, "test_case", test)  # a subtest's outcome belongs to its test
        test_id = case.id()
        if err is not None:
            detail, tb = _first_line(err), _full_traceback(err)
        else:
            tb = ""
        if test_id not in self._pending:
            # setUpClass / setUpModule failures arrive outside any test.
            self._write(e="result", id=test_id, outcome=outcome, detail=detail, traceback=tb)
            return
        current = self._pending[test_id]
        if current is None or _SEVERITY[outcome] >= _SEVERITY[current[0]]:
            self._pending[test_id] = (outcome, detail, tb)

    def startTest(self, test):
        self._pending[test.id()] = None
        self._write(e="start", id=test.id())
        if self.hang_seconds:
            # Past the limit: every thread's stack to the log, then the process ends; the
            # parent marks this test as hung and restarts without the tests done.
            faulthandler.dump_traceback_later(self.hang_seconds, exit=True, file=sys.__stderr__)
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self.hang_seconds:
            faulthandler.cancel_dump_traceback_later()
        outcome, detail, tb = self._pending.pop(test.id(), None) or ("error", "no outcome", "")
        self._write(e="result", id=test.id(), outcome=outcome, detail=detail, traceback=tb)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._note(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._note(test, "fail", err)

    def addError(self, test, err):
        super().addError(test, err)
        self._note(test, "error", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._note(test, "skip", detail=str(reason)[:300])

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._note(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._note(test, "xpass", detail="unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "fail" if issubclass(err[0], test.failureException) else "error"
            self._note(test, outcome, err)


def _install_tests_package(root):
    """Makes `tests` importable as the suite's package without running its __init__.py, which
    imports all 25 modules: one module the shim cannot import would then fail every other."""
    tests_dir = os.path.join(root, "tests")
    package = types.ModuleType("tests")
    package.__path__ = [tests_dir]
    package.__file__ = os.path.join(tests_dir, "__init__.py")
    package.__package__ = "tests"
    sys.modules["tests"] = package
    # What that __init__.py does before anything else: warnings while importing are errors.
    warnings.simplefilter("error")


def _flat(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flat(item)
        else:
            yield item


def child_main(argv=None):
    """Runs the given test modules as `python -m unittest tests.MODULE...` would, recording every
    test's outcome. Also the entry point of `puff python psycopg2_suite:child_main ARGS`."""
    parser = argparse.ArgumentParser(prog="psycopg2_suite.py child")
    parser.add_argument("--root", required=True, help="folder holding the suite's tests/")
    parser.add_argument("--events", required=True)
    parser.add_argument("--skip", help="file of test ids already done (a restarted run)")
    parser.add_argument("--hang-seconds", type=int, default=0)
    parser.add_argument("modules", nargs="+")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    if sys.path[0] != args.root:
        sys.path.insert(0, args.root)
    skip = set()
    if args.skip and os.path.exists(args.skip):
        with open(args.skip, encoding="utf-8") as f:
            skip = {line.strip() for line in f if line.strip()}
    _install_tests_package(args.root)
    with open(args.events, "a", encoding="utf-8") as events:
        _RecordingResult.events = events
        _RecordingResult.hang_seconds = args.hang_seconds
        suite = unittest.TestSuite()
        for module in args.modules:
            name = f"tests.{module}"
            if name in skip:
                continue
            try:
                imported = importlib.import_module(name)
                loaded = unittest.defaultTestLoader.loadTestsFromModule(imported)
            except BaseException:
                # Recorded beside the tests; its tests count as not run.
                _write_event(events, e="result", id=name, outcome="error",
                             detail="import: " + _first_line(sys.exc_info()),
                             traceback=_full_traceback(sys.exc_info()))
                continue
            # One flat suite: unittest still runs class and module fixtures around their tests.
            suite.addTests(t for t in _flat(loaded) if t.id() not in skip)
        # As unittest.main: while tests run, warnings are shown, not raised.
        runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, warnings="default",
                                         resultclass=_RecordingResult)
        runner.run(suite)
        _write_event(events, e="done")
    return 0


# --- the parent: sources, venv, server, runs, scoring -------------------------------------------


def pinned_version():
    match = re.search(r"^psycopg2-binary==(\S+)", REF_REQUIREMENTS.read_text(), re.I | re.M)
    if not match:
        fail(f"no psycopg2-binary==X line in {REF_REQUIREMENTS}")
    return match.group(1)


def ensure_suite(version):
    """psycopg2's tests/ from its sdist, downloaded and extracted once. Returns the folder that
    holds tests/ (and nothing else: no psycopg2 source to shadow the package under test)."""
    root = SOURCE_CACHE / f"psycopg2-{version}"
    if (root / "tests" / "testconfig.py").exists():
        return root
    SOURCE_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = SOURCE_CACHE / f"psycopg2-{version}.tar.gz"
    if not tarball.exists():
        say(f"downloading psycopg2 {version}'s sdist")
        run_quiet([MAIN_PYTHON, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                   "--no-binary", ":all:", "--no-deps", f"psycopg2=={version}",
                   "-d", SOURCE_CACHE], "pip download")
    prefix = f"psycopg2-{version}/tests/"
    staging = Path(tempfile.mkdtemp(prefix="extract-", dir=SOURCE_CACHE))
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        if not members:
            fail(f"{tarball} has no {prefix}")
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(staging, members=members, **extra)
    # Renamed into place last, so an interrupted extraction is never taken for a complete one.
    root.mkdir(exist_ok=True)
    (staging / prefix).rename(root / "tests")
    shutil.rmtree(staging)
    return root


def probe(cmd, env=None):
    """Where `import psycopg2` leads under an interpreter."""
    code = ("import json, sys\ntry:\n import psycopg2\n"
            " info = {'version': psycopg2.__version__, 'file': psycopg2.__file__}\n"
            "except Exception as e:\n info = {'version': None, 'error': repr(e)}\n"
            "info['python'] = sys.version.split()[0]\nprint(json.dumps(info))")
    out = run_quiet([*cmd, "-c", code], f"probing {cmd[0]}", env=env)
    return json.loads(out.strip().splitlines()[-1])


def ensure_reference_venv(version):
    """Creates the venv and installs requirements-psycopg2-ref.txt when that file changed."""
    python = REF_VENV / "bin" / "python"
    stamp = REF_VENV / ".psycopg2-suite-stamp"
    wanted = hashlib.sha256(REF_REQUIREMENTS.read_bytes()).hexdigest()
    if not python.exists():
        say("creating the reference venv")
        run_quiet([MAIN_PYTHON, "-m", "venv", REF_VENV], "creating the reference venv")
    if not stamp.exists() or stamp.read_text() != wanted:
        say("installing the reference venv's packages")
        run_quiet([python, "-m", "pip", "-q", "--disable-pip-version-check", "install",
                   "-r", REF_REQUIREMENTS], "installing the reference venv")
        stamp.write_text(wanted)
    info = probe([python], env=reference_env())
    if not (info["version"] or "").startswith(f"{version} ("):
        fail(f"the reference venv does not import psycopg2 {version}: {info}")
    return python, info


def reference_env():
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")}


def suite_db_env(url):
    """The PSYCOPG2_TESTDB* variables tests/testconfig.py builds the suite's DSN from."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    values = {
        "PSYCOPG2_TESTDB": TEST_DB,
        "PSYCOPG2_TESTDB_HOST": unquote(parts.hostname or "") or query.get("host", [None])[0],
        "PSYCOPG2_TESTDB_PORT": str(parts.port) if parts.port else query.get("port", [None])[0],
        "PSYCOPG2_TESTDB_USER": unquote(parts.username or "") or query.get("user", [None])[0],
        "PSYCOPG2_TESTDB_PASSWORD":
            unquote(parts.password or "") or query.get("password", [None])[0],
    }
    return {k: v for k, v in values.items() if v}


def create_test_database(ref_python, url):
    """A fresh database for one run, with hstore when the server has it (its tests skip
    otherwise). Made with the reference psycopg2, whatever the run under test is."""
    code = r"""
import sys, psycopg2
url, name = sys.argv[1:]
admin = psycopg2.connect(url)
admin.autocommit = True
cur = admin.cursor()
force = " WITH (FORCE)" if admin.server_version >= 130000 else ""
cur.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
cur.execute(f'CREATE DATABASE "{name}"')
admin.close()
db = psycopg2.connect(url, dbname=name)
db.autocommit = True
try:
    db.cursor().execute("CREATE EXTENSION IF NOT EXISTS hstore")
    print("hstore")
except psycopg2.Error as e:
    print("no hstore: " + str(e).splitlines()[0])
"""
    out = run_quiet([ref_python, "-c", code, url, TEST_DB], "creating the test database",
                    env=reference_env())
    return out.strip()


# --- one run of the suite ------------------------------------------------------------------------


def run_suite(name, launcher, env, suite_root, args):
    """Runs the child until it reaches the end of the modules. A child that dies in a test (crash,
    or the per-test hang guard) gets that test marked and is restarted without the tests done,
    up to --restarts times, all within --timeout minutes."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    events, log_path, skip_path = (RESULTS / f"{name}.events.jsonl", RESULTS / f"{name}.log",
                                   RESULTS / f"{name}.skip")
    for path in (events, log_path, skip_path):
        path.unlink(missing_ok=True)
    cmd = [*launcher, "--root", str(suite_root), "--events", str(events), "--skip", str(skip_path),
           "--hang-seconds", str(args.hang_timeout), *args.modules]
    say(f"{name}: cd {suite_root} && {' '.join(map(str, cmd))}")
    status, restarts, outcomes, seconds = run_with_restarts(
        name, cmd, suite_root, env, (events, log_path, skip_path), args, say)
    result = {"run": name, "command": [str(c) for c in cmd], "cwd": str(suite_root),
              "modules": args.modules, "psycopg2": args.version, "status": status,
              "restarts": restarts, "seconds": seconds,
              "log": str(log_path), "outcomes": outcomes}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


# --- scoring -------------------------------------------------------------------------------------

def module_of(test_id):
    # Fixture reports read "setUpClass (tests.test_x.Class)"; ids read "tests.test_x.Class.test".
    inner = re.fullmatch(r"\w+ \((.+)\)", test_id)
    parts = (inner.group(1) if inner else test_id).split(".")
    return parts[1] if parts[0] == "tests" and len(parts) > 1 else parts[0]


def is_test(test_id):
    """A real test's outcome, not a fixture or import error reported beside the tests."""
    return not re.fullmatch(r"\w+ \(.+\)", test_id) and test_id.count(".") >= 3


ROW_KEYS = ["ref pass", "ref skip", "ref fail", "pass", "skip", "fail", "not run", "both",
            "known", "unexpl."]


def print_table(modules, reference, shim, diffs, known):
    rows = [("module", "ref pass", "skip", "fail", "shim pass", "skip", "fail", "not run",
             "both", "known", "unexpl.")]
    totals = Counter()
    for module in modules:
        ref = {t: o for t, o in reference.items() if module_of(t) == module}
        ref_counts = Counter(bucket(o["outcome"]) for o in ref.values())
        ours = Counter(bucket(o["outcome"]) for t, o in shim.items()
                       if module_of(t) == module and is_test(t))
        module_diffs = [t for t in diffs if module_of(t) == module]
        row = Counter({"ref pass": ref_counts["pass"], "ref skip": ref_counts["skip"],
                       "ref fail": ref_counts["fail"], "pass": ours["pass"],
                       "skip": ours["skip"], "fail": ours["fail"],
                       "not run": sum(1 for t in ref if t not in shim),
                       "both": ref_counts["pass"] - len(module_diffs),
                       "known": sum(1 for t in module_diffs if t in known),
                       "unexpl.": sum(1 for t in module_diffs if t not in known)})
        totals.update(row)
        rows.append((module, *(row[k] for k in ROW_KEYS)))
    rows.append(("total", *(totals[k] for k in ROW_KEYS)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def score(title, reference, result, known, modules):
    shim = result["outcomes"]
    diffs = differences(reference, shim)
    passing_ref = sum(1 for o in reference.values() if o["outcome"] in PASSING)
    both = passing_ref - len(diffs)
    unexplained = sorted(t for t in diffs if t not in known)
    ratio = both / passing_ref if passing_ref else 0.0
    print(f"\n{title} (run {result['status']}, {result['seconds']:.0f} s, "
          f"{result['restarts']} restarts; details in {RESULTS / (result['run'] + '.json')}):")
    print_table(modules, reference, shim, diffs, known)
    # Import and fixture errors first: one of them explains many tests that did not run, which
    # are then counted per module rather than listed.
    broken_modules = set()
    for test_id, o in sorted(shim.items()):
        if not is_test(test_id) and o["outcome"] not in PASSING | {"skip"}:
            print(f"  {test_id}: [{o['outcome']}] {o['detail']}")
            broken_modules.add(module_of(test_id))
    ended_early = result["status"] != "complete"
    not_run = Counter(module_of(t) for t in unexplained if diffs[t]["outcome"] == "not run"
                      and (ended_early or module_of(t) in broken_modules))
    for module, count in sorted(not_run.items()):
        why = "the run ended early" if ended_early else "error above"
        print(f"  unexplained: {count} tests of tests.{module} not run ({why})")
    listed = [t for t in unexplained
              if not_run[module_of(t)] == 0 or diffs[t]["outcome"] != "not run"]
    for test_id in listed[:SHOWN_DIFFERENCES]:
        print(f"  unexplained: {test_id}  [{diffs[test_id]['outcome']}] {diffs[test_id]['detail']}")
    if len(listed) > SHOWN_DIFFERENCES:
        print(f"  ... {len(listed) - SHOWN_DIFFERENCES} more unexplained")
    line = (f"psycopg2 suite ({title}): shim passes {both} of {passing_ref} reference passes "
            f"({100 * ratio:.1f}%); {len(diffs) - len(unexplained)} known, "
            f"{len(unexplained)} unexplained")
    if result["status"] != "complete":
        line += f" [run {result['status']}]"
    ok = ratio >= THRESHOLD and not unexplained and result["status"] == "complete"
    return line, ok, diffs


def update_known(all_diffs, known, modules):
    """Rewrites the list: entries of modules not run are kept; for the modules run, exactly
    today's differences (an existing reason is kept, a new entry says TODO)."""
    header = []
    if KNOWN_FILE.exists():
        for line in KNOWN_FILE.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                break
            header.append(line)
    entries = {t: r for t, r in known.items() if module_of(t) not in modules}
    for test_id in all_diffs:
        entries[test_id] = known.get(test_id) or "TODO"
    width = max((len(t) for t in entries), default=0)
    body = [f"{t.ljust(width)}  # {entries[t]}" for t in sorted(entries)]
    KNOWN_FILE.write_text("\n".join([*header, *body]) + "\n")
    say(f"wrote {len(entries)} entries to {KNOWN_FILE}")


# --- main ----------------------------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", nargs="+", default=MODULES,
                        help="modules of the suite's tests/; default: %(default)s")
    parser.add_argument("--runtime", choices=["plain", "puff", "both"], default="plain",
                        help="shim under plain python, under `puff python`, or both")
    parser.add_argument("--shim-python", default=str(MAIN_PYTHON),
                        help="interpreter of the shim runs (default: the project's venv)")
    parser.add_argument("--puff", help="puff binary (default: beside --shim-python)")
    parser.add_argument("--timeout", type=float, default=15, help="minutes per run")
    parser.add_argument("--hang-timeout", type=int, default=90,
                        help="seconds one test may take before its process is ended")
    parser.add_argument("--restarts", type=int, default=5,
                        help="restarts after a test crashes or hangs its process")
    parser.add_argument("--reuse-reference", action="store_true",
                        help="score against the last reference outcomes when they cover the "
                             "modules")
    parser.add_argument("--update-known", action="store_true",
                        help="write the current differences to psycopg2_known_failures.txt")
    args = parser.parse_args()
    args.modules = [m for item in args.modules for m in item.replace(",", " ").split()]
    # Absolute but not resolved: a venv's python is a symlink to the base interpreter.
    args.shim_python = os.path.abspath(args.shim_python)
    args.puff = os.path.abspath(args.puff) if args.puff else None
    return args


def venv_of(python):
    venv = Path(python).parent.parent
    return venv if (venv / "pyvenv.cfg").exists() else None


def reference_outcomes(args, ref_python, suite_root, url):
    saved = RESULTS / "reference.json"
    if args.reuse_reference and saved.exists():
        result = json.loads(saved.read_text())
        if (result["psycopg2"] == args.version and result["status"] == "complete"
                and set(args.modules) <= set(result["modules"])):
            say(f"reusing the reference outcomes of {saved}")
            return result
        say("the saved reference outcomes do not cover this run: running the reference")
    say(f"reference: fresh database {TEST_DB} ({create_test_database(ref_python, url)})")
    env = {**reference_env(), **suite_db_env(url)}
    return run_suite("reference", [ref_python, SELF, "child"], env, suite_root, args)


def shim_launcher(runtime, args):
    if runtime == "plain":
        return [args.shim_python, SELF, "child"]
    puff = args.puff or str(Path(args.shim_python).parent / "puff")
    venv = venv_of(args.shim_python)
    # The puff run imports from the same venv as the plain run.
    return [puff, *(["--python-home", venv] if venv else []), "python", "psycopg2_suite:child_main"]


def main():
    args = parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        say(f"note: modules outside the scored set: {', '.join(unknown)}")
    args.version = pinned_version()
    suite_root = ensure_suite(args.version)
    ref_python, ref_info = ensure_reference_venv(args.version)
    shim_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    shim_info = probe([args.shim_python], env=shim_env)
    say(f"reference: psycopg2 {ref_info['version']} from {ref_info['file']}")
    say(f"shim:      {args.shim_python}: psycopg2 {shim_info['version']} from "
        f"{shim_info.get('file', shim_info.get('error'))}")
    runtimes = ["plain", "puff"] if args.runtime == "both" else [args.runtime]
    if "puff" in runtimes and not os.access(shim_launcher("puff", args)[0], os.X_OK):
        fail(f"no puff binary at {shim_launcher('puff', args)[0]} (scripts/bootstrap installs it; "
             "or pass --puff)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with postgres_server() as url:
        reference = reference_outcomes(args, ref_python, suite_root, url)
        ref_outcomes = {t: o for t, o in reference["outcomes"].items()
                        if module_of(t) in args.modules and is_test(t)}
        counts = Counter(bucket(o["outcome"]) for o in ref_outcomes.values())
        say(f"reference ({reference['status']}, {reference['seconds']:.0f} s): "
            f"{counts['pass']} pass, {counts['skip']} skip, {counts['fail']} fail")
        if reference["status"] != "complete":
            fail(f"the reference run did not complete: {reference['status']}")

        shim_results = []
        for runtime in runtimes:
            created = create_test_database(ref_python, url)
            say(f"shim-{runtime}: fresh database {TEST_DB} ({created})")
            env = {**shim_env, **suite_db_env(url)}
            if runtime == "puff":
                # `puff python psycopg2_suite:child_main` imports this file from tests/compat.
                env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(COMPAT), env.get("PYTHONPATH")]))
            shim_results.append((runtime, run_suite(f"shim-{runtime}", shim_launcher(runtime, args),
                                                    env, suite_root, args)))

    known = read_known(KNOWN_FILE)
    lines, all_ok, all_diffs = [], True, {}
    for runtime, result in shim_results:
        line, ok, diffs = score(f"{runtime} python", ref_outcomes, result, known, args.modules)
        lines.append(line)
        all_ok &= ok
        all_diffs.update(diffs)
    stale = sorted(t for t in known if module_of(t) in args.modules and t not in all_diffs)
    if stale:
        print(f"\nwarning: {len(stale)} stale entries in {KNOWN_FILE.name} (pass now, or are not "
              f"reference passes, in the runs made): prune them, e.g.")
        for test_id in stale[:10]:
            print(f"  stale: {test_id}")
    todo = sum(1 for t, reason in known.items()
               if module_of(t) in args.modules and reason == "TODO")
    if todo:
        print(f"\nwarning: {todo} entries of {KNOWN_FILE.name} still give TODO as their reason")
    print()
    for line in lines:
        print(line)
    if args.update_known:
        update_known(all_diffs, known, args.modules)
    incomplete = any(result["status"] != "complete" for _, result in shim_results)
    sys.exit(2 if incomplete else 0 if all_ok else 1)


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(child_main(sys.argv[2:]))
    main()
