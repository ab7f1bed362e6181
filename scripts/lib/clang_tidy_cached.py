#!/usr/bin/env python3
"""clang-tidy over the project's C++ sources with the checked-in .clang-tidy, in parallel, and
remembering which files were clean: a file is checked again only when it, a project header it
includes (transitively), its compile command, the config or clang-tidy changed. So the first run
(CI, a fresh clone) checks everything, later ones only what a change touched.

    scripts/lib/clang_tidy_cached.py BUILD_DIR [-j N]

Prints clang-tidy's findings for the files that have some; exits 1 when any file has one.
Stdlib only.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
PROJECT_DIRS = ("runtime", "psycopg_shim", "django_puff")


def digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    return h.hexdigest()


class Includes:
    """The project headers a file includes, transitively (resolved like the build does:
    beside the file, then from runtime/ and the repository root)."""

    def __init__(self):
        self.cache = {}

    def resolve(self, name, beside):
        for base in (beside, ROOT / "runtime", ROOT):
            candidate = (base / name).resolve()
            if candidate.is_file() and ROOT in candidate.parents:
                return candidate
        return None

    def closure(self, path):
        seen, todo = set(), [path]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            if current not in self.cache:
                names = INCLUDE.findall(current.read_text(errors="replace"))
                resolved = (self.resolve(name, current.parent) for name in names)
                self.cache[current] = [path for path in resolved if path]
            todo.extend(self.cache[current])
        return sorted(seen)


def tidy_version():
    return subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("-j", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    build = Path(args.build_dir).resolve()
    commands_file = build / "compile_commands.json"
    if not commands_file.exists():
        print(f"lint: {commands_file} is missing; run scripts/bootstrap first", file=sys.stderr)
        return 2
    commands = {}
    for entry in json.loads(commands_file.read_text()):
        source = Path(entry["directory"], entry["file"]).resolve()
        try:
            relative = source.relative_to(ROOT)
        except ValueError:
            continue  # generated files in the build directory
        if relative.parts[0] in PROJECT_DIRS:
            commands[source] = entry.get("command") or " ".join(entry.get("arguments", []))
    cache_dir = build / "lint-cache"
    cache_dir.mkdir(exist_ok=True)
    config = (ROOT / ".clang-tidy").read_bytes()
    version = tidy_version()
    includes = Includes()
    todo = []
    for source, command in sorted(commands.items()):
        key = digest(version, config, command, *[p.read_bytes() for p in includes.closure(source)])
        if not (cache_dir / key).exists():
            todo.append((source, key))

    def check(item):
        source, key = item
        done = subprocess.run(["clang-tidy", "-p", str(build), "--quiet", str(source)],
                              capture_output=True, text=True)
        findings = [line for line in done.stdout.splitlines()
                    if re.search(r": (warning|error): ", line)]
        if not findings and done.returncode == 0:
            (cache_dir / key).write_text("clean\n")
            return source, ""
        return source, done.stdout

    failed = 0
    with ThreadPoolExecutor(max(1, args.j)) as pool:
        for _source, output in pool.map(check, todo):
            if output:
                failed += 1
                print(output.rstrip())
    print(f"clang-tidy: {len(commands)} files, {len(todo)} checked now, "
          f"{failed} with findings", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
