#!/usr/bin/env python3
"""Scores django_puff.cache.RedisCache against Django's own RedisCache (redis-py + hiredis)
with Django's own tests (shared/design/compatibility.md):

  - the cache contract: BaseCacheTests, run by Django's RedisCacheTests (reference) and by our
    subclass module django_cache/puff_redis_tests.py (copied into Django's tests/cache/);
  - sessions_tests, with the default cache (which the cache session engines use) on each backend.

    tests/compat/django_cache_suite.py                  # reference + ours under plain python
    tests/compat/django_cache_suite.py --runtime both   # ... and ours under `puff python`

Every test passing in the reference must pass in ours, or be listed in
django_cache_known_failures.txt with the reason. RedisCacheTests' own tests of redis-py's
client internals (get_client, connection pools, ...) are not part of the contract and are left
out. Exits 1 below 99% or with an unexplained difference, 2 when a run could not be scored.
"""
import argparse
import ast
import hashlib
import os
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path

import django_suite as suite
from suite_common import PASSING, Messages, bucket, differences, read_known

_messages = Messages("django cache suite")
say, fail, run_quiet = _messages.say, _messages.fail, _messages.run_quiet

COMPAT = Path(__file__).resolve().parent
KNOWN_FILE = COMPAT / "django_cache_known_failures.txt"
CACHE_REF_REQUIREMENTS = COMPAT / "requirements-django-cache-ref.txt"
OUR_TESTS = COMPAT / "django_cache" / "puff_redis_tests.py"
REFERENCE_CLASS = "cache.tests.RedisCacheTests"
OURS_CLASS = "cache.puff_redis_tests.PuffRedisCacheTests"
THRESHOLD = 0.99
# Each run gets its own Redis database (FLUSHDB in the tests' tearDown).
REDIS_DB = {"reference": 1, "plain": 2, "puff": 3}


def redis_only_tests(tests_dir):
    """The tests RedisCacheTests defines itself (redis-py client internals)."""
    tree = ast.parse((tests_dir / "cache" / "tests.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "RedisCacheTests":
            return {f.name for f in node.body
                    if isinstance(f, ast.FunctionDef) and f.name.startswith("test_")}
    fail("Django's cache/tests.py has no RedisCacheTests class")


def normalize(outcomes, cache_class, left_out):
    """Test ids comparable across runs: cache contract tests as `cache_contract.NAME`."""
    out = {}
    for test_id, outcome in outcomes.items():
        if test_id.startswith(cache_class + "."):
            name = test_id[len(cache_class) + 1:]
            if name not in left_out:
                out["cache_contract." + name] = outcome
        elif test_id.startswith("sessions_tests."):
            out[test_id] = outcome
    return out


def ensure_cache_reference_packages(ref_python):
    stamp = suite.REF_VENV / ".django-cache-suite-stamp"
    wanted = hashlib.sha256(CACHE_REF_REQUIREMENTS.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        say("installing redis-py and hiredis into the reference venv")
        run_quiet([*suite.reference_pip(), "install", "-r", CACHE_REF_REQUIREMENTS],
                  "installing redis-py")
        stamp.write_text(wanted)


def redis_url(base, db):
    return base.rsplit("/", 1)[0] + "/%d" % db if base.count("/") >= 3 else base + "/%d" % db


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=["plain", "puff", "both"], default="plain")
    parser.add_argument("--timeout", type=float, default=15, help="minutes per run")
    parser.add_argument("--hang-timeout", type=int, default=120)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    args.parallel = 1
    return args


def summary(title, reference, ours, known):
    diffs = differences(reference, ours)
    passing = sum(1 for o in reference.values() if o["outcome"] in PASSING)
    unexplained = sorted(t for t in diffs if t not in known)
    both = passing - len(diffs)
    ratio = both / passing if passing else 0.0
    groups = Counter(t.split(".")[0] for t, o in reference.items() if o["outcome"] in PASSING)
    ours_groups = Counter(t.split(".")[0] for t, o in reference.items()
                          if o["outcome"] in PASSING and t not in diffs)
    print(f"\n{title}:")
    for group in sorted(groups):
        print(f"  {group}: {ours_groups[group]} of {groups[group]} reference passes")
    for test_id in unexplained[:40]:
        print(f"  unexplained: {test_id}  [{diffs[test_id]['outcome']}] "
              f"{diffs[test_id]['detail']}")
    line = (f"django cache suite ({title}): passes {both} of {passing} reference passes "
            f"({100 * ratio:.2f}%); {len(diffs) - len(unexplained)} known, "
            f"{len(unexplained)} unexplained")
    return line, ratio >= THRESHOLD and not unexplained


def main():
    args = parse_args()
    args.django_version = suite.pinned_django_version()
    tests_dir = suite.ensure_django_tests(args.django_version)
    shutil.copyfile(OUR_TESTS, tests_dir / "cache" / OUR_TESTS.name)
    ref_python = suite.ensure_reference_venv()
    ensure_cache_reference_packages(ref_python)
    shim_python = str(suite.MAIN_PYTHON)
    suite.check_shim_interpreter(shim_python, args.django_version,
                                 "django_puff.db.backends.postgresql")
    suite.align_reference_venv(ref_python, args.django_version,
                               suite.probe(shim_python))
    puff = str(Path(shim_python).parent / "puff")
    runtimes = ["plain", "puff"] if args.runtime == "both" else [args.runtime]
    if "puff" in runtimes and not os.access(puff, os.X_OK):
        fail(f"no puff binary at {puff} (scripts/bootstrap installs it)")
    left_out = redis_only_tests(tests_dir)
    say(f"left out (redis-py client internals): {', '.join(sorted(left_out))}")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = {}
    with _messages.postgres_server(), _messages.redis_server() as base_url:
        for run in ["reference", *runtimes]:
            settings = "django_settings.cache_reference" if run == "reference" \
                else "django_settings.cache_shim"
            labels = [REFERENCE_CLASS if run == "reference" else "cache.puff_redis_tests",
                      "sessions_tests"]
            args.labels = labels
            env = suite.base_env(f"django_cache_{run}")
            env["DJANGO_CACHE_SUITE_REDIS_URL"] = redis_url(base_url, REDIS_DB[run])
            if run == "reference":
                env.pop("VIRTUAL_ENV", None)
                python_cmd = [ref_python, "runtests.py"]
            elif run == "plain":
                python_cmd = [shim_python, "runtests.py"]
            else:
                python_cmd = [puff, "python", "django_settings.puff_entry:main"]
            cmd = suite.suite_command(python_cmd, settings, args)
            results[run] = suite.run_suite(f"cache-{run}", cmd, env, tests_dir, args)

    reference = results.pop("reference")
    if reference["status"] != "complete":
        fail(f"the reference run did not complete: {reference['status']}")
    ref = normalize(reference["outcomes"], REFERENCE_CLASS, left_out)
    counts = Counter(bucket(o["outcome"]) for o in ref.values())
    say(f"reference: {counts['pass']} pass, {counts['skip']} skip, {counts['fail']} fail")
    known = read_known(KNOWN_FILE)
    lines, ok = [], True
    for run, result in results.items():
        ours = normalize(result["outcomes"], OURS_CLASS, left_out)
        line, run_ok = summary(f"{run} python", ref, ours, known)
        complete = result["status"] == "complete"
        lines.append(line if complete else f"{line} [run {result['status']}]")
        ok &= run_ok and complete
    print()
    for line in lines:
        print(line)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
