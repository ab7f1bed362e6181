"""`puff python django_puff.testing.python_compat:main [-u] [-B] -c CODE`: runs CODE as
`python -u -c CODE` would, but inside puff, on the hub. This is all execnet asks of the
interpreter it starts (pytest-xdist's workers: `-u -c "import sys;exec(eval(...))"`), so
`puff pytest -n 2` runs its workers inside the runtime with the native pools."""
import sys

USAGE = "usage: python_compat [-u] [-B] -c CODE [ARGS...]"


def main():
    args = sys.argv[1:]
    while args and args[0] in ("-u", "-B"):
        if args[0] == "-B":
            sys.dont_write_bytecode = True
        # -u: the worker's protocol streams are opened unbuffered by execnet itself.
        args.pop(0)
    if len(args) < 2 or args[0] != "-c":
        print(USAGE, file=sys.stderr)
        return 2
    code = args[1]
    sys.argv = ["-c", *args[2:]]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(code, "<string>", "exec"), namespace)
    return 0
