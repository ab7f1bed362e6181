"""`puff python django_settings.puff_entry:main RUNTESTS-ARGS...`, started in Django's tests/
folder: runs runtests.py there as `python runtests.py RUNTESTS-ARGS...` would."""
import os
import runpy
import sys


def main():
    tests_dir = os.getcwd()
    script = os.path.join(tests_dir, "runtests.py")
    # `python script.py` puts the script's folder first on sys.path; runtests.py relies on it.
    if sys.path[0] != tests_dir:
        sys.path.insert(0, tests_dir)
    sys.argv = [script, *sys.argv[1:]]
    runpy.run_path(script, run_name="__main__")
