#!/usr/bin/env python3
"""Scores our Django engine (django_puff.db.backends.postgresql on the psycopg2 shim) against
Django's own postgresql backend on real psycopg2, with Django's own test suite
(shared/design/compatibility.md).

    tests/compat/django_suite.py                      # reference + shim under plain python
    tests/compat/django_suite.py --runtime both       # ... and the shim under `puff python`
    tests/compat/django_suite.py --labels basic lookup --reuse-reference
    tests/compat/django_suite.py --update-known       # write today's differences (reason TODO)
    tests/compat/django_suite.py --label-set toolkit  # test_runner test_utils migrations

Fetches Django's sdist (the version pinned in requirements.txt) and a reference venv into
tests/compat/.cache/, starts a throwaway PostgreSQL unless TEST_POSTGRES_URL is set, runs
`runtests.py --settings=django_settings.{reference,shim} --parallel=N --noinput -v 2 LABELS`
once per run, each test's outcome recorded by django_settings/recording_runner.py, and
compares: ratio = tests passing under both / tests passing under the reference. Every
reference pass the shim does not pass must be listed in django_known_failures.txt. Exits 1
when a run scores below 99% or has an unexplained difference, 2 when a run could not be scored.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

from suite_common import (  # noqa: E402  (this folder is on sys.path: the runner's own)
    MAIN_PYTHON,
    PASSING,
    Messages,
    bucket,
    differences,
    read_known,
    run_with_restarts,
)

_messages = Messages("django suite")
say, fail, run_quiet, postgres_server = (
    _messages.say, _messages.fail, _messages.run_quiet, _messages.postgres_server)

ROOT = Path(__file__).resolve().parents[2]
COMPAT = ROOT / "tests" / "compat"
CACHE = COMPAT / ".cache"
SOURCE_CACHE = CACHE / "django"  # sdist tarball and its extracted tests/
REF_VENV = CACHE / "venv-django-ref"
RESULTS = CACHE / "django-results"  # per run: .json outcomes, .log output, .events.jsonl
KNOWN_FILE = COMPAT / "django_known_failures.txt"
REF_REQUIREMENTS = COMPAT / "requirements-django-ref.txt"
PROJECT_REQUIREMENTS = ROOT / "requirements.txt"

LABELS = ["backends", "basic", "transactions", "queries", "model_fields", "expressions",
          "aggregation", "lookup", "postgres_tests"]
# Named sets of labels: "driver" (the default) scores the engine's SQL; "toolkit" scores what
# management commands and test tooling rely on (issue 6). Each set keeps its own result files.
LABEL_SETS = {"driver": LABELS, "toolkit": ["test_runner", "test_utils", "migrations"]}
THRESHOLD = 0.99
# Extensions postgres_tests' first migration creates (Debian's postgresql package ships them).
EXTENSIONS = ["bloom", "btree_gin", "btree_gist", "citext", "hstore", "pg_trgm", "unaccent",
              "uuid-ossp"]
# Optional packages some labels use (model_fields' ImageField tests need Pillow). The reference
# venv mirrors what the shim's interpreter has, so both runs skip or run the same tests.
MIRRORED_DISTRIBUTIONS = ["Pillow"]
# Django prefers psycopg 3 when it is importable: neither run may see it.
PSYCOPG3_DISTRIBUTIONS = ["psycopg", "psycopg-binary", "psycopg-c", "psycopg-pool"]


# --- Django's source and the reference venv ---------------------------------------------------

def pinned_django_version():
    match = re.search(r"^django==(\S+)", PROJECT_REQUIREMENTS.read_text(), re.I | re.M)
    if not match:
        fail(f"no Django==X line in {PROJECT_REQUIREMENTS}")
    return match.group(1)


def ensure_django_tests(version):
    """Django's tests/ folder from its sdist, downloaded and extracted once."""
    tests_dir = SOURCE_CACHE / f"django-{version}" / "tests"
    if (tests_dir / "runtests.py").exists():
        return tests_dir
    SOURCE_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = SOURCE_CACHE / f"django-{version}.tar.gz"
    if not tarball.exists():
        say(f"downloading Django {version}'s sdist")
        run_quiet([MAIN_PYTHON, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                   "--no-binary", ":all:", "--no-deps", f"django=={version}",
                   "-d", SOURCE_CACHE], "pip download")
    prefix = f"django-{version}/tests/"
    staging = Path(tempfile.mkdtemp(prefix="extract-", dir=SOURCE_CACHE))
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        if not members:
            fail(f"{tarball} has no {prefix}")
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(staging, members=members, **extra)
    # Rename into place last, so an interrupted extraction is never taken for a complete one.
    tests_dir.parent.mkdir(exist_ok=True)
    (staging / prefix).rename(tests_dir)
    shutil.rmtree(staging)
    return tests_dir


def probe(python):
    """What an interpreter would import: versions and where psycopg2 comes from."""
    code = r"""
import importlib.metadata as md, importlib.util as iu, json, sys
def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
info = {"python": sys.version.split()[0], "django": version("Django"),
        "psycopg3": iu.find_spec("psycopg") is not None,
        "mirrored": {d: version(d) for d in sys.argv[1:]}}
try:
    import psycopg2
    info["psycopg2"] = f"{psycopg2.__version__} from {psycopg2.__file__}"
except Exception as e:
    info["psycopg2"] = None
    info["psycopg2_error"] = repr(e)
print(json.dumps(info))
"""
    out = run_quiet([python, "-c", code, *MIRRORED_DISTRIBUTIONS], f"probing {python}")
    return json.loads(out.strip().splitlines()[-1])


def reference_pip():
    return [REF_VENV / "bin" / "python", "-m", "pip", "-q", "--disable-pip-version-check"]


def ensure_reference_venv():
    """Creates the venv and installs requirements-django-ref.txt when that file or the project's
    pins changed."""
    python = REF_VENV / "bin" / "python"
    stamp = REF_VENV / ".django-suite-stamp"
    wanted = hashlib.sha256(
        (REF_REQUIREMENTS.read_text() + PROJECT_REQUIREMENTS.read_text()).encode()).hexdigest()
    if not python.exists():
        say("creating the reference venv")
        run_quiet([MAIN_PYTHON, "-m", "venv", REF_VENV], "creating the reference venv")
    if not stamp.exists() or stamp.read_text() != wanted:
        say("installing the reference venv's packages")
        # The project's pins constrain Django, asgiref and sqlparse to the shim run's versions.
        run_quiet([*reference_pip(), "install", "-r", REF_REQUIREMENTS, "-c", PROJECT_REQUIREMENTS],
                  "installing the reference venv")
        stamp.write_text(wanted)
    return python


def align_reference_venv(python, version, shim_info):
    """No psycopg 3, the shim interpreter's optional packages, and the expected versions."""
    info = probe(python)
    if info["psycopg3"]:
        run_quiet([*reference_pip(), "uninstall", "-y", *PSYCOPG3_DISTRIBUTIONS],
                  "removing psycopg 3")
    for dist, shim_version in shim_info["mirrored"].items():
        if info["mirrored"][dist] == shim_version:
            continue
        say(f"reference venv: {dist} {info['mirrored'][dist]} -> {shim_version} (as the shim's)")
        if shim_version:
            run_quiet([*reference_pip(), "install", f"{dist}=={shim_version}"],
                      f"installing {dist}")
        else:
            run_quiet([*reference_pip(), "uninstall", "-y", dist], f"removing {dist}")
    info = probe(python)
    if info["django"] != version or not (info["psycopg2"] or "").startswith("2.9.13 ("):
        fail(f"the reference venv is not Django {version} + psycopg2 2.9.13: {info}")
    return info


def check_shim_interpreter(python, version, engine):
    info = probe(python)
    if info["psycopg3"]:
        fail(f"psycopg (3) is importable in {python}: Django would use it; uninstall it there")
    if info["django"] != version:
        fail(f"{python} has Django {info['django']}, the suite is {version}")
    if engine.startswith("django_puff.") and info["psycopg2"] is None:
        say(f"warning: psycopg2 is not importable in {python}: {info.get('psycopg2_error')}")
    return info


# --- the PostgreSQL server ---------------------------------------------------------------------


def check_extensions(ref_python, url):
    code = ("import psycopg2, sys; c = psycopg2.connect(sys.argv[1]); cur = c.cursor(); "
            "cur.execute('SELECT name FROM pg_available_extensions'); "
            "print(' '.join(r[0] for r in cur.fetchall()))")
    available = set(run_quiet([ref_python, "-c", code, url], "listing extensions").split())
    missing = [e for e in EXTENSIONS if e not in available]
    if missing:
        fail(f"the server lacks extensions postgres_tests creates: {', '.join(missing)} "
             "(install PostgreSQL's contrib modules)")


# --- one run of Django's suite -----------------------------------------------------------------


def run_suite(name, cmd, env, tests_dir, args):
    """Runs `cmd` (runtests.py in some form) until the suite reaches its end. A process that dies
    in a test (crash, or the per-test hang guard) gets that test marked and is restarted
    without the tests already done, up to --restarts times, all within --timeout minutes."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    events, log_path, skip_path = (RESULTS / f"{name}.events.jsonl", RESULTS / f"{name}.log",
                                   RESULTS / f"{name}.skip")
    for path in (events, log_path, skip_path):
        path.unlink(missing_ok=True)
    env = {**env, "DJANGO_SUITE_EVENTS": str(events), "DJANGO_SUITE_SKIP": str(skip_path),
           "DJANGO_SUITE_HANG_SECONDS": str(args.hang_timeout)}
    say(f"{name}: cd {tests_dir} && {' '.join(map(str, cmd))}   (output: {log_path})")
    status, restarts, outcomes, seconds = run_with_restarts(
        name, cmd, tests_dir, env, (events, log_path, skip_path), args, say)
    result = {"run": name, "command": [str(c) for c in cmd], "cwd": str(tests_dir),
              "labels": args.labels, "django": args.django_version, "status": status,
              "restarts": restarts, "seconds": seconds, "outcomes": outcomes}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


def suite_command(python_cmd, settings, args):
    return [*python_cmd, f"--settings={settings}", f"--parallel={args.parallel}", "--noinput",
            "-v", "2", *args.labels]


def base_env(db_name):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONHOME", "DJANGO_SETTINGS_MODULE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COMPAT), env.get("PYTHONPATH")]))
    env["DJANGO_SUITE_DB_NAME"] = db_name
    return env


# --- scoring -----------------------------------------------------------------------------------

def label_of(test_id):
    # Class-level reports read "setUpClass (module.Class)".
    inner = re.fullmatch(r"\w+ \((.+)\)", test_id)
    return (inner.group(1) if inner else test_id).split(".")[0]


def in_labels(test_id, labels):
    return label_of(test_id) in labels


ROW_KEYS = ["ref pass", "ref skip", "ref fail", "pass", "skip", "fail", "not run", "both",
            "known", "unexpl."]


def print_table(labels, reference, shim, diffs, known):
    rows = [("label", "ref pass", "skip", "fail", "shim pass", "skip", "fail", "not run",
             "both", "known", "unexpl.")]
    totals = Counter()
    for label in labels:
        ref = Counter(bucket(o["outcome"]) for t, o in reference.items() if label_of(t) == label)
        ours = Counter(bucket(o["outcome"]) for t, o in shim.items() if label_of(t) == label)
        not_run = sum(1 for t in reference if label_of(t) == label and t not in shim)
        both = sum(1 for t, o in reference.items() if label_of(t) == label
                   and o["outcome"] in PASSING and shim.get(t, {}).get("outcome") in PASSING)
        label_diffs = [t for t in diffs if label_of(t) == label]
        row = Counter({"ref pass": ref["pass"], "ref skip": ref["skip"], "ref fail": ref["fail"],
                       "pass": ours["pass"], "skip": ours["skip"], "fail": ours["fail"],
                       "not run": not_run, "both": both,
                       "known": sum(1 for t in label_diffs if t in known),
                       "unexpl.": sum(1 for t in label_diffs if t not in known)})
        totals.update(row)
        rows.append((label, *(row[k] for k in ROW_KEYS)))
    rows.append(("total", *(totals[k] for k in ROW_KEYS)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def score(title, reference, shim_result, known, args):
    shim = shim_result["outcomes"]
    diffs = differences(reference, shim)
    passing_ref = sum(1 for o in reference.values() if o["outcome"] in PASSING)
    both = passing_ref - len(diffs)
    unexplained = sorted(t for t in diffs if t not in known)
    ratio = both / passing_ref if passing_ref else 0.0
    print(f"\n{title} (run {shim_result['status']}, {shim_result['seconds']:.0f} s, "
          f"{shim_result['restarts']} restarts):")
    print_table(args.labels, reference, shim, diffs, known)
    listed = unexplained
    if not shim:  # its log says more than thousands of "not run" lines
        listed = []
        log = RESULTS / f"{shim_result['run']}.log"
        tail = log.read_text(errors="replace").splitlines()[-12:] if log.exists() else []
        print("  no test ran; the end of its output:", *("    " + line for line in tail), sep="\n")
    for test_id in listed[:40]:
        print(f"  unexplained: {test_id}  [{diffs[test_id]['outcome']}] {diffs[test_id]['detail']}")
    if len(listed) > 40:
        print(f"  ... {len(listed) - 40} more in {RESULTS / (shim_result['run'] + '.json')}")
    stale = [t for t in known if in_labels(t, args.labels) and t not in diffs]
    if stale:
        print(f"  {len(stale)} known-failure entries now pass (or are not reference passes): "
              f"prune them, e.g. {stale[0]}")
    line = (f"django suite ({title}): engine passes {both} of {passing_ref} reference passes "
            f"({100 * ratio:.2f}%); {len(diffs) - len(unexplained)} known, "
            f"{len(unexplained)} unexplained")
    ok = ratio >= THRESHOLD and not unexplained and shim_result["status"] == "complete"
    return line, ok, diffs


def update_known(all_diffs, known, labels):
    """Rewrites the list: entries outside the labels run are kept; inside them, exactly today's
    differences (an existing reason is kept, a new entry says TODO)."""
    header = []
    if KNOWN_FILE.exists():
        for line in KNOWN_FILE.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                break
            header.append(line)
    entries = {t: r for t, r in known.items() if not in_labels(t, labels)}
    for test_id in all_diffs:
        entries[test_id] = known.get(test_id) or "TODO"
    width = max((len(t) for t in entries), default=0)
    body = [f"{t.ljust(width)}  # {entries[t]}" for t in sorted(entries)]
    KNOWN_FILE.write_text("\n".join([*header, *body]) + "\n")
    say(f"wrote {len(entries)} entries to {KNOWN_FILE}")


# --- main --------------------------------------------------------------------------------------

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label-set", choices=sorted(LABEL_SETS), default="driver",
                        help="which labels to run: " + "; ".join(
                            f"{name}: {' '.join(labels)}" for name, labels in LABEL_SETS.items()))
    parser.add_argument("--labels", nargs="+",
                        help="test labels (top-level apps of Django's tests/) instead of a set")
    parser.add_argument("--runtime", choices=["plain", "puff", "both"], default="plain",
                        help="shim under plain python, under `puff python`, or both")
    parser.add_argument("--shim-python", default=str(MAIN_PYTHON),
                        help="interpreter of the shim run (default: the project's venv)")
    parser.add_argument("--puff", help="puff binary (default: beside --shim-python)")
    parser.add_argument("--shim-engine", default="django_puff.db.backends.postgresql",
                        help="ENGINE of the shim run; Django's own engine checks the runner itself")
    parser.add_argument("--parallel", type=int, default=1,
                        help="runtests.py --parallel (1: tests run in the recording process, "
                             "so the hang guard works; >1 needs tblib and picklable errors)")
    parser.add_argument("--timeout", type=float, default=25, help="minutes per run")
    parser.add_argument("--hang-timeout", type=int, default=180,
                        help="seconds one test may take before its process is ended")
    parser.add_argument("--restarts", type=int, default=5,
                        help="restarts after a test crashes or hangs its process")
    parser.add_argument("--reuse-reference", action="store_true",
                        help="score against the last reference outcomes when they cover the labels")
    parser.add_argument("--update-known", action="store_true",
                        help="write the current differences to django_known_failures.txt")
    args = parser.parse_args()
    labels = args.labels or LABEL_SETS[args.label_set]
    args.labels = [label for item in labels for label in item.replace(",", " ").split()]
    # Result files of the default set keep their names; another set's get its name in front.
    args.run_prefix = "" if args.label_set == "driver" else args.label_set + "-"
    # Absolute (runs start in Django's tests/) but not resolved: a venv's python is a symlink.
    args.shim_python = os.path.abspath(args.shim_python)
    args.puff = os.path.abspath(args.puff) if args.puff else None
    return args


def reference_outcomes(args, ref_python, tests_dir):
    saved = RESULTS / f"{args.run_prefix}reference.json"
    if args.reuse_reference and saved.exists():
        result = json.loads(saved.read_text())
        if (result["django"] == args.django_version and result["status"] == "complete"
                and set(args.labels) <= set(result["labels"])):
            say(f"reusing the reference outcomes of {saved}")
            return result
        say("the saved reference outcomes do not cover this run: running the reference")
    cmd = suite_command([ref_python, "runtests.py"], "django_settings.reference", args)
    env = base_env("django_reference")
    env.pop("VIRTUAL_ENV", None)
    return run_suite(f"{args.run_prefix}reference", cmd, env, tests_dir, args)


def main():
    args = parse_args()
    scored = {label for labels in LABEL_SETS.values() for label in labels}
    unknown = [label for label in args.labels if label not in scored]
    if unknown:
        say(f"note: labels outside the scored set: {', '.join(unknown)}")
    args.django_version = pinned_django_version()
    tests_dir = ensure_django_tests(args.django_version)
    ref_python = ensure_reference_venv()
    shim_info = check_shim_interpreter(args.shim_python, args.django_version, args.shim_engine)
    ref_info = align_reference_venv(ref_python, args.django_version, shim_info)
    say(f"reference: psycopg2 {ref_info['psycopg2']}")
    say(f"shim:      {args.shim_engine} on {args.shim_python}, psycopg2 {shim_info['psycopg2']}")
    runtimes = ["plain", "puff"] if args.runtime == "both" else [args.runtime]
    puff = args.puff or str(Path(args.shim_python).parent / "puff")
    if "puff" in runtimes and not os.access(puff, os.X_OK):
        fail(f"no puff binary at {puff} (scripts/bootstrap installs it; or pass --puff)")
    if "puff" in runtimes and args.parallel != 1:
        fail("--parallel must be 1 with --runtime puff: its workers would fork the runtime")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with postgres_server() as url:
        check_extensions(ref_python, url)
        reference = reference_outcomes(args, ref_python, tests_dir)
        counts = Counter(bucket(o["outcome"]) for t, o in reference["outcomes"].items()
                         if in_labels(t, args.labels))
        say(f"reference ({reference['status']}, {reference['seconds']:.0f} s): "
            f"{counts['pass']} pass, {counts['skip']} skip, {counts['fail']} fail")
        if reference["status"] != "complete":
            fail(f"the reference run did not complete: {reference['status']}")
        ref_outcomes = {t: o for t, o in reference["outcomes"].items() if in_labels(t, args.labels)}

        shim_results = []
        for runtime in runtimes:
            env = base_env(f"django_shim_{runtime}")
            env["DJANGO_SUITE_SHIM_ENGINE"] = args.shim_engine
            if runtime == "plain":
                python_cmd = [args.shim_python, "runtests.py"]
            else:
                python_cmd = [puff, "python", "django_settings.puff_entry:main"]
            cmd = suite_command(python_cmd, "django_settings.shim", args)
            shim_results.append((runtime, run_suite(f"{args.run_prefix}shim-{runtime}", cmd, env,
                                                    tests_dir, args)))

    known = read_known(KNOWN_FILE)
    lines, all_ok, all_diffs = [], True, {}
    for runtime, result in shim_results:
        title = f"{runtime} python" if args.label_set == "driver" else (
            f"{args.label_set} labels, {runtime} python")
        line, ok, diffs = score(title, ref_outcomes, result, known, args)
        lines.append(line if result["status"] == "complete" else f"{line} [run {result['status']}]")
        all_ok &= ok
        all_diffs.update(diffs)
    print()
    for line in lines:
        print(line)
    incomplete = any(result["status"] != "complete" for _, result in shim_results)
    if args.update_known and incomplete:
        say("not updating the known failures: a run did not complete")
    elif args.update_known:
        update_known(all_diffs, known, args.labels)
    sys.exit(2 if incomplete else 0 if all_ok else 1)


if __name__ == "__main__":
    main()
