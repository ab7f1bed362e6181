"""django_puff.hashers: PBKDF2 derives on the blocking pool while the hub serves others, and
its hashes are Django's (each hasher verifies the other's)."""
import subprocess
import sys

import pytest

SETTINGS = """
import django
from django.conf import settings

settings.configure(PASSWORD_HASHERS=[
    "django_puff.hashers.PBKDF2PasswordHasher",  # in place of Django's (same algorithm)
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
])
django.setup()
"""

OVERLAP = SETTINGS + """
import time
import puff
from django.contrib.auth.hashers import check_password, make_password


def main():
    ticks, done = [], []

    def ticker():
        while not done:
            ticks.append(time.monotonic())
            puff.sleep(0.005)

    task = puff.spawn(ticker)
    puff.sleep(0.05)
    started = time.monotonic()
    encoded = make_password("s3cret")   # 1,000,000 rounds of SHA-256 (Django 5.2)
    ok = check_password("s3cret", encoded)
    ended = time.monotonic()
    done.append(True)
    task.join()
    during = [t for t in ticks if started <= t <= ended]
    print(f"{ended - started:.3f} {len(during)} {ok} {encoded.split('$')[0]}")
"""

COMPATIBLE = SETTINGS + """
from django.contrib.auth.hashers import PBKDF2PasswordHasher as Django
from django_puff.hashers import PBKDF2PasswordHasher as Puff


def main():
    ours, theirs = Puff(), Django()
    assert ours.algorithm == theirs.algorithm == "pbkdf2_sha256"
    salt = theirs.salt()
    assert ours.encode("pw", salt) == theirs.encode("pw", salt)
    assert theirs.verify("pw", ours.encode("pw", salt))
    theirs_encoded = theirs.encode("pw", salt)
    assert ours.verify("pw", theirs_encoded) and not ours.verify("no", theirs_encoded)
    print("same")
"""


def test_the_hub_serves_others_while_a_password_is_hashed(project):
    project.write("job.py", OVERLAP)
    result = project.run("python", "job:main", timeout=120)
    assert result.returncode == 0, result.stderr
    seconds, ticks, ok, algorithm = result.stdout.split()
    assert ok == "True" and algorithm == "pbkdf2_sha256"
    # Two derivations of ~0.25 s each: a hub blocked by them would not tick in between.
    assert float(seconds) > 0.1 and int(ticks) >= float(seconds) / 0.005 / 4, result.stdout
    assert "the hub has been blocked" not in result.stderr


@pytest.mark.parametrize("under_puff", [True, False])
def test_hashes_are_djangos(project, under_puff):
    project.write("job.py", COMPATIBLE)
    if under_puff:
        result = project.run("python", "job:main", timeout=120)
    else:  # plain python: no puff module, derives in place
        result = subprocess.run([sys.executable, "-c", "import job; job.main()"],
                                cwd=project.path, capture_output=True, text=True, timeout=120,
                                env=project.env())
    assert (result.returncode, result.stdout.strip()) == (0, "same"), result.stderr
    assert "PASSWORD_HASHERS lists both" not in result.stderr


def test_listing_djangos_pbkdf2_hasher_too_is_one_warning(project):
    # Django keeps the last hasher of an algorithm: ours would never verify a login.
    project.write("job.py", SETTINGS.replace(
        '"django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",',
        '"django.contrib.auth.hashers.PBKDF2PasswordHasher",') + """
from django.contrib.auth.hashers import check_password, make_password


def main():
    assert check_password("pw", make_password("pw"))
""")
    result = project.run("python", "job:main", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("PASSWORD_HASHERS lists both") == 1, result.stderr
    assert "remove django.contrib.auth.hashers.PBKDF2PasswordHasher" in result.stderr
