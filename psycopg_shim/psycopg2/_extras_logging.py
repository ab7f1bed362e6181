"""Connections and cursors logging the queries they run (psycopg2.extras)."""

import logging
import os
import time

from psycopg2._connection import connection as _connection
from psycopg2._cursor import cursor as _cursor
from psycopg2._exceptions import ProgrammingError


class LoggingConnection(_connection):
    """A connection logging every query run by its cursors to a file or a logger.

    Call `initialize()` before creating cursors.
    """

    def initialize(self, logobj):
        """Log to `logobj`: a file-like object or a `logging.Logger`/`LoggerAdapter`."""
        self._logobj = logobj
        if isinstance(logobj, (logging.Logger, logging.LoggerAdapter)):
            self.log = self._logtologger
        else:
            self.log = self._logtofile

    def filter(self, msg, curs):
        """Return the message to log for `curs` (a false value skips it).

        Override to drop queries or decorate them; by default every query is logged as is.
        """
        return msg

    def _logtofile(self, msg, curs):
        msg = self.filter(msg, curs)
        if msg:
            if isinstance(msg, bytes):
                msg = msg.decode(self._codec, 'replace')
            self._logobj.write(msg + os.linesep)

    def _logtologger(self, msg, curs):
        msg = self.filter(msg, curs)
        if msg:
            self._logobj.debug(msg)

    def _check(self):
        if not hasattr(self, '_logobj'):
            raise ProgrammingError("LoggingConnection object has not been initialize()d")

    def cursor(self, *args, **kwargs):
        self._check()
        kwargs.setdefault('cursor_factory', self.cursor_factory or LoggingCursor)
        return super().cursor(*args, **kwargs)


class LoggingCursor(_cursor):
    """A cursor handing each query it runs, even a failed one, to its connection's log."""

    def execute(self, query, vars=None):
        try:
            return super().execute(query, vars)
        finally:
            self.connection.log(self.query, self)

    def callproc(self, procname, vars=None):
        try:
            return super().callproc(procname, vars)
        finally:
            self.connection.log(self.query, self)


class MinTimeLoggingConnection(LoggingConnection):
    """A `LoggingConnection` logging only the queries slower than `mintime` ms.

    Its cursors are `MinTimeLoggingCursor`, which time the queries.
    """

    def initialize(self, logobj, mintime=0):
        LoggingConnection.initialize(self, logobj)
        self._mintime = mintime

    def filter(self, msg, curs):
        elapsed_ms = (time.time() - curs.timestamp) * 1000
        if elapsed_ms > self._mintime:
            if isinstance(msg, bytes):
                msg = msg.decode(self._codec, 'replace')
            return f"{msg}{os.linesep}  (execution time: {elapsed_ms} ms)"

    def cursor(self, *args, **kwargs):
        kwargs.setdefault('cursor_factory', self.cursor_factory or MinTimeLoggingCursor)
        return LoggingConnection.cursor(self, *args, **kwargs)


class MinTimeLoggingCursor(LoggingCursor):
    """The cursor of `MinTimeLoggingConnection`: records when each query starts."""

    def execute(self, query, vars=None):
        self.timestamp = time.time()
        return LoggingCursor.execute(self, query, vars)

    def callproc(self, procname, vars=None):
        self.timestamp = time.time()
        return LoggingCursor.callproc(self, procname, vars)
