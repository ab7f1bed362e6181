"""Django's DiscoverRunner plus a per-test record, for tests/compat/django_suite.py.

Environment (set by django_suite.py):
  DJANGO_SUITE_EVENTS        JSON-lines file the outcomes are appended to, flushed per test, so
                             a run that dies still leaves everything before the fatal test
  DJANGO_SUITE_SKIP          optional file of test ids (one a line) to leave out: a restarted
                             run skips what the dead one already did
  DJANGO_SUITE_HANG_SECONDS  optional per-test limit: past it faulthandler dumps every stack
                             and ends the process (only with --parallel=1, where tests run here)

Events: {"e": "start", "id"}, {"e": "result", "id", "outcome", "detail"}, {"e": "done"}.
Outcomes: pass, fail, error, skip, xfail (expected failure), xpass (unexpected success).
"""
import faulthandler
import json
import os
import sys
import traceback
import unittest

from django.test.runner import DiscoverRunner
from django.test.utils import iter_test_cases

# When one test reports several things (subtests), the worst one is its outcome.
_SEVERITY = {"skip": 0, "pass": 1, "xfail": 1, "xpass": 2, "fail": 3, "error": 4}


def _event_log():
    return open(os.environ["DJANGO_SUITE_EVENTS"], "a", encoding="utf-8")


def _write(log, **event):
    log.write(json.dumps(event) + "\n")
    log.flush()


def _short(err):
    """The exception on one line, clipped: enough to tell failures apart in the report."""
    text = "".join(traceback.format_exception_only(err[0], err[1]))
    return " ".join(text.split())[:300]


def _case_id(test):
    # A subtest's skip or error belongs to the test that holds it.
    case = getattr(test, "test_case", test)
    return case.id()


class RecordingResult(unittest.TextTestResult):
    log = None
    hang_seconds = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pending = {}  # test id -> (outcome, detail) until stopTest

    def _note(self, test, outcome, detail=""):
        test_id = _case_id(test)
        if test_id not in self._pending and isinstance(test, unittest.suite._ErrorHolder):
            # setUpClass / tearDownModule and the like: reported outside any test.
            _write(self.log, e="result", id=test_id, outcome=outcome, detail=detail)
            return
        current = self._pending.get(test_id)
        if current is None or _SEVERITY[outcome] >= _SEVERITY[current[0]]:
            self._pending[test_id] = (outcome, detail)

    def startTest(self, test):
        self._pending[test.id()] = None
        _write(self.log, e="start", id=test.id())
        if self.hang_seconds:
            faulthandler.dump_traceback_later(self.hang_seconds, exit=True, file=sys.__stderr__)
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self.hang_seconds:
            faulthandler.cancel_dump_traceback_later()
        outcome, detail = self._pending.pop(test.id(), None) or ("error", "no outcome reported")
        _write(self.log, e="result", id=test.id(), outcome=outcome, detail=detail)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._note(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._note(test, "fail", _short(err))

    def addError(self, test, err):
        super().addError(test, err)
        self._note(test, "error", _short(err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._note(test, "skip", str(reason)[:300])

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._note(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._note(test, "xpass", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "fail" if issubclass(err[0], test.failureException) else "error"
            self._note(test, outcome, f"{subtest.id()}: {_short(err)}")


class RecordingRunner(DiscoverRunner):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        skip_file = os.environ.get("DJANGO_SUITE_SKIP")
        self._skip = set()
        if skip_file and os.path.exists(skip_file):
            with open(skip_file, encoding="utf-8") as f:
                self._skip = {line.strip() for line in f if line.strip()}

    def load_tests_for_label(self, label, discover_kwargs):
        tests = super().load_tests_for_label(label, discover_kwargs)
        if not self._skip or tests is None:
            return tests
        return unittest.TestSuite(t for t in iter_test_cases(tests) if t.id() not in self._skip)

    def get_resultclass(self):
        return RecordingResult

    def run_suite(self, suite, **kwargs):
        with _event_log() as log:
            RecordingResult.log = log
            # Under --parallel the workers run the tests; here we only replay their events.
            RecordingResult.hang_seconds = (
                int(os.environ.get("DJANGO_SUITE_HANG_SECONDS", "0")) if self.parallel == 1 else 0
            )
            result = super().run_suite(suite, **kwargs)
            _write(log, e="done")
        return result
