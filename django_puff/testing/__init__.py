"""`puff pytest`: pytest inside the runtime (pytest_main), and the python-compatible entry that
runs pytest-xdist's workers inside puff too (python_compat)."""
