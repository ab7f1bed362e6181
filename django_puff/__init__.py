"""Django integration of puff: the database engine (and later the cache backend and tools)."""
