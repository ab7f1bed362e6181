# The per-request part of puff's WSGI server (PEP 3333), compiled into the executable and run
# as the module `_puff_wsgi_driver` (see module.cpp). Each request is one greenlet running
# run(app, exchange, base_environ); `exchange` is the native _puff_wsgi.Exchange, whose read()
# and send() park this greenlet until the IO threads have done the work.
import logging as _logging
import os as _os
import stat as _stat

from greenlet import GreenletExit as _GreenletExit

from _puff_wsgi import ClientDisconnected

_log = _logging.getLogger("puff.wsgi")
_READ_CHUNK = 64 * 1024


class InputStream:
    """wsgi.input: the request body, read from the socket as the application asks for it."""

    __slots__ = ("_exchange", "_buffer", "_eof")

    def __init__(self, exchange):
        self._exchange = exchange
        self._buffer = b""
        self._eof = False

    def _more(self, size):
        if self._eof:
            return b""
        data = self._exchange.read(size)
        if not data:
            self._eof = True
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            chunks = [self._buffer]
            self._buffer = b""
            while data := self._more(_READ_CHUNK):
                chunks.append(data)
            return b"".join(chunks)
        buffered = self._buffer
        if len(buffered) >= size:
            self._buffer = buffered[size:]
            return buffered[:size]
        chunks = [buffered]
        self._buffer = b""
        missing = size - len(buffered)
        # A file's read(n) returns n bytes unless the end comes first.
        while missing > 0 and (data := self._more(max(missing, 8192))):
            if len(data) > missing:
                self._buffer = data[missing:]
                data = data[:missing]
            chunks.append(data)
            missing -= len(data)
        return b"".join(chunks)

    def readline(self, size=-1):
        limit = size if size is not None and size >= 0 else None
        buffered = self._buffer
        start = 0
        while True:
            end = buffered.find(b"\n", start)
            if end >= 0 and (limit is None or end < limit):
                self._buffer = buffered[end + 1:]
                return buffered[:end + 1]
            if limit is not None and len(buffered) >= limit:
                self._buffer = buffered[limit:]
                return buffered[:limit]
            start = len(buffered)
            data = self._more(_READ_CHUNK)
            if not data:
                self._buffer = b""
                return buffered
            buffered += data

    def readlines(self, hint=-1):
        lines, total = [], 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class FileWrapper:
    """wsgi.file_wrapper: iterates a file-like in blocks; close() closes it."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class _ClientGone(Exception):
    pass


class _Response:
    __slots__ = ("exchange", "status", "headers", "head_sent", "used_write")

    def __init__(self, exchange):
        self.exchange = exchange
        self.status = None
        self.headers = None
        self.head_sent = False
        self.used_write = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() was called a second time without exc_info")
        if type(status) is not str:
            raise TypeError(f"the status must be a str, got {type(status).__name__}")
        if type(headers) is not list:
            raise TypeError(f"the headers must be a list of (name, value) tuples, "
                            f"got {type(headers).__name__}")
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data):
        if self.status is None:
            raise AssertionError("write() was called before start_response()")
        self.used_write = True
        try:
            self.send(data, False)
        except _ClientGone:
            raise ClientDisconnected("the client closed the connection") from None

    def send(self, data, last):
        if self.head_sent:
            ok = self.exchange.send(None, None, data, last)
        elif self.status is None:
            raise AssertionError("the application returned body data before calling "
                                 "start_response()")
        elif not data and not last:
            return  # PEP 3333: the head waits for the first non-empty chunk
        else:
            ok = self.exchange.send(self.status, self.headers, data, last)
            self.head_sent = True
        if not ok:
            raise _ClientGone

    def send_sequence(self, chunks):
        count = len(chunks)
        if count and not self.used_write and not self.head_sent and self.status is not None:
            for name, _ in self.headers:
                if type(name) is str and name.lower() == "content-length":
                    break
            else:
                # The whole body is known: say how long it is (no chunked framing needed).
                self.headers.append(("Content-Length", str(sum(map(len, chunks)))))
        for index, chunk in enumerate(chunks):
            self.send(chunk, index == count - 1)
        if not count:
            self.send(b"", True)

    def send_file(self, wrapper):
        """A FileWrapper around a real file goes out with sendfile(2); False: iterate it."""
        if self.used_write or self.head_sent or self.status is None:
            return False
        try:
            fd = wrapper.filelike.fileno()
            offset = wrapper.filelike.tell()
            info = _os.fstat(fd)
        except (AttributeError, OSError, ValueError):
            return False
        if not _stat.S_ISREG(info.st_mode):
            return False
        length = max(0, info.st_size - offset)
        for name, _ in self.headers:
            if type(name) is str and name.lower() == "content-length":
                break
        else:
            self.headers.append(("Content-Length", str(length)))
        self.exchange.send_file(self.status, self.headers, fd, offset, length)
        self.head_sent = True
        return True

    def fail(self, error, environ):
        where = f"{environ.get('REQUEST_METHOD')} {environ.get('RAW_URI')}"
        if self.head_sent:
            _log.error("%s: the application failed after the response started; the connection "
                       "is closed", where, exc_info=error)
            self.exchange.abort()
            return
        _log.error("%s: the application failed; answered 500", where, exc_info=error)
        body = b"Internal Server Error\n"
        self.exchange.send("500 Internal Server Error",
                           [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))], body, True)
        self.head_sent = True


def run(app, exchange, base_environ):
    environ = exchange.environ(base_environ)
    environ["wsgi.input"] = InputStream(exchange)
    response = _Response(exchange)
    result = None
    try:
        result = app(environ, response.start_response)
        if type(result) is list or type(result) is tuple:
            response.send_sequence(result)
        elif type(result) is FileWrapper and response.send_file(result):
            pass
        else:
            for chunk in result:
                response.send(chunk, False)
            if response.status is None:
                raise AssertionError("the application returned without calling start_response()")
            response.send(b"", True)
    except _ClientGone:
        pass
    except ClientDisconnected:
        # wsgi.input or write() found the client gone (or the server already answered a bad
        # body with 400/413/408): nothing to tell anyone.
        exchange.abort()
    except _GreenletExit:
        exchange.abort()  # the server is stopping
    except BaseException as error:
        try:
            response.fail(error, environ)
        except BaseException:
            exchange.abort()
    finally:
        try:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except BaseException as error:
                    _log.error("%s %s: the response iterable's close() failed",
                               environ.get("REQUEST_METHOD"), environ.get("RAW_URI"),
                               exc_info=error)
        finally:
            # The request ends here, not when its objects go: Django's sit in reference
            # cycles (with wsgi.input, hence the exchange) until the next gc pass, and a
            # graceful stop waited for that.
            exchange.release()
