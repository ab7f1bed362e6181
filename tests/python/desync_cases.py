"""A request-smuggling and desync matrix: raw byte streams that two HTTP/1.1 readers could frame
differently, each with what a strict reader (RFC 9112) runs. Used by test_http_framing.py
(puff must be exactly strict) and tests/compat/http_desync_suite.py (puff beside gunicorn and
granian). Stdlib only.

The application (wsgi_apps/desync_app.py) tags every request it ran with its method, path and
body in X-Ran. An attack hides `GET /hidden` where one plausible reading of the framing puts
it inside a body and another after it; where no reading disagrees, an ordinary `GET /b`
follows instead. Outcomes of a server on a case:
  strict     it ran exactly what a strict reader runs
  stricter   it refused part of what a strict reader runs (safe, less compatible)
  lenient    it ran something else, but nothing hidden (accepts what it should refuse)
  DESYNC     it ran a hidden request: the smuggling the case is about
"""
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from http_support import Reader, closed_by_peer
from wsgi_apps.desync_app import body_tag

# Every request line carries "?c=@@@", replaced by the case's number when it runs (same width,
# so lengths hold): the application logs which case a request it ran came from.
MARK = b"@@@"
HIDDEN = b"GET /hidden?c=@@@ HTTP/1.1\r\nHost: x\r\n\r\n"
NEXT = b"GET /b?c=@@@ HTTP/1.1\r\nHost: x\r\n\r\n"
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"


@dataclass
class Case:
    name: str
    data: bytes
    expected: list  # [(method, path, body)] a strict reader runs, in order
    why: str = ""
    # A strict reader closes the connection after these requests (always after a refusal).
    closes: bool = None

    def __post_init__(self):
        if self.closes is None:
            self.closes = not self.expected

    def numbered(self, number):
        """The bytes to send as case `number`."""
        return self.data.replace(MARK, b"%03d" % number)

    def expected_tags(self, number):
        return [body_tag(method, path, body.replace(MARK, b"%03d" % number))
                for method, path, body in self.expected]


def post(headers, body=b"", version=b"HTTP/1.1", target=b"/a?c=@@@"):
    return b"POST " + target + b" " + version + b"\r\n" + b"".join(
        h + b"\r\n" for h in headers) + b"\r\n" + body


def te_cl(name, te_lines, why):
    """Two attacks on one ambiguous pair of headers: the chunked body hides a request from a
    reader that frames by Content-Length (TE.CL), and the Content-Length body hides one from a
    reader that frames by chunks (CL.TE). A strict reader refuses both."""
    size_line = b"%x\r\n" % len(HIDDEN)
    te_body = size_line + HIDDEN + b"\r\n0\r\n\r\n"
    cl_body = b"0\r\n\r\n" + HIDDEN
    return [
        Case(f"{name} (TE.CL)", post([b"Host: x", *te_lines,
                                      b"Content-Length: %d" % len(size_line)], te_body), [],
             why),
        Case(f"{name} (CL.TE)", post([b"Host: x", b"Content-Length: %d" % len(cl_body),
                                      *te_lines], cl_body), [], why),
    ]


def te_only(name, te_lines, why):
    """Transfer-Encoding a strict reader refuses, no Content-Length: a reader that ignores it
    reads no body, and the chunk text that follows hides a request."""
    return Case(name, post([b"Host: x", *te_lines], b"%x\r\n" % len(HIDDEN) + HIDDEN +
                           b"\r\n0\r\n\r\n"), [], why)


def chunked_post(chunks, why, expected_body=None, name="", then=NEXT):
    """A chunked body given raw; when `expected_body` is None a strict reader refuses it.
    `then` follows it: GET /b (a reader that accepts the body runs it: lenient), or the hidden
    request where a lax reading puts it outside the body that a strict reading ends later."""
    data = post([b"Host: x", b"Transfer-Encoding: chunked"], chunks) + then
    path = then.split(b" ")[1].split(b"?")[0].decode()
    expected = [] if expected_body is None else [("POST", "/a", expected_body),
                                                  ("GET", path, b"")]
    return Case(name, data, expected, why)


HELLO_THEN_B = [("POST", "/a", b"hello"), ("GET", "/b", b"")]
WHY_TE_CL = "RFC 9112 §6.1: Transfer-Encoding with Content-Length is refused (or CL ignored)"
WHY_FINAL = "RFC 9112 §6.3: chunked must be the final coding, else 400"


def control_cases():
    hello = HELLO_THEN_B
    return [
        # Controls: what must keep working.
        Case("control: Content-Length body, then a pipelined request",
             post([b"Host: x", b"Content-Length: 5"], b"hello") + NEXT, hello),
        Case("control: chunked body, then a pipelined request",
             post([b"Host: x", b"Transfer-Encoding: chunked"], HELLO_CHUNKED) + NEXT, hello),
        Case("control: chunk extensions are allowed",
             post([b"Host: x", b"Transfer-Encoding: chunked"],
                  b"5;name=value;q=\"a b\"\r\nhello\r\n0\r\n\r\n") + NEXT, hello),
        Case("control: trailers after the last chunk",
             post([b"Host: x", b"Transfer-Encoding: chunked"],
                  b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n") + NEXT, hello),
        Case("control: chunked in any case",
             post([b"Host: x", b"Transfer-Encoding: CHUNKED"], HELLO_CHUNKED) + NEXT, hello),
        Case("control: Transfer-Encoding value after a tab",
             post([b"Host: x", b"Transfer-Encoding:\tchunked"], HELLO_CHUNKED) + NEXT, hello),
        Case("control: Content-Length with leading zeros",
             post([b"Host: x", b"Content-Length: 005"], b"hello") + NEXT, hello),
        Case("control: a GET's body is not a request",
             b"GET /a?c=@@@ HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(HIDDEN)
             + HIDDEN + NEXT, [("GET", "/a", HIDDEN), ("GET", "/b", b"")]),
        Case("control: an empty line before the request line is ignored",
             b"\r\n" + NEXT, [("GET", "/b", b"")]),
        Case("control: HTTP/1.0 needs no Host",
             b"GET /b?c=@@@ HTTP/1.0\r\n\r\n", [("GET", "/b", b"")]),
        Case("control: a header name with '_' is just another field",
             post([b"Host: x", b"Transfer_Encoding: chunked", b"Content-Length: %d"
                   % len(HELLO_CHUNKED)], HELLO_CHUNKED) + NEXT,
             [("POST", "/a", HELLO_CHUNKED), ("GET", "/b", b"")]),
        Case("control: 100-continue with a body sent at once",
             post([b"Host: x", b"Content-Length: 5", b"Expect: 100-continue"], b"hello") + NEXT,
             hello),
    ]


def transfer_encoding_cases():
    """Transfer-Encoding beside Content-Length, and Transfer-Encoding not ending in chunked."""
    why_te_cl, why_final = WHY_TE_CL, WHY_FINAL
    cases = te_cl("TE chunked beside CL", [b"Transfer-Encoding: chunked"], why_te_cl)
    cases += te_cl("TE 'chunked, identity' beside CL", [b"Transfer-Encoding: chunked, identity"],
                   why_final)
    cases += te_cl("TE identity beside CL", [b"Transfer-Encoding: identity"], why_final)
    cases += te_cl("TE xchunked beside CL", [b"Transfer-Encoding: xchunked"], why_final)
    cases += te_cl("TE 'chunked;a=b' beside CL", [b"Transfer-Encoding: chunked;a=b"], why_final)
    cases += te_cl("TE with space before the colon", [b"Transfer-Encoding : chunked"],
                   "RFC 9112 §5.1: whitespace before the colon is a 400")
    cases += te_cl("TE folded (obs-fold)", [b"Transfer-Encoding:", b" chunked"],
                   "RFC 9112 §5.2: obs-fold is refused in requests")
    cases += te_cl("TE twice: chunked, then identity",
                   [b"Transfer-Encoding: chunked", b"Transfer-Encoding: identity"], why_final)
    cases += te_cl("TE with a vertical tab", [b"Transfer-Encoding: \x0bchunked"],
                   "RFC 9110 §5.5: VT is not a field-value character")
    cases += te_cl("TE empty", [b"Transfer-Encoding: "], why_final)
    cases += [
        te_only("TE 'chunked, identity' alone", [b"Transfer-Encoding: chunked, identity"],
                why_final),
        te_only("TE 'chunked, chunked'", [b"Transfer-Encoding: chunked, chunked"],
                "chunked applied twice"),
        te_only("TE 'gzip, chunked' (not implemented)", [b"Transfer-Encoding: gzip, chunked"],
                "RFC 9112 §6.1: an unknown coding is a 501"),
        Case("HTTP/1.0 with chunked: answered, then closed",
             post([b"Transfer-Encoding: chunked", b"Connection: keep-alive"], HELLO_CHUNKED,
                  version=b"HTTP/1.0") + HIDDEN, [("POST", "/a", b"hello")],
             "RFC 9112 §6.1: HTTP/1.0 with Transfer-Encoding: close after the response",
             closes=True),
        Case("HTTP/1.0 with chunked and Content-Length",
             post([b"Transfer-Encoding: chunked", b"Content-Length: 3"], b"0\r\n\r\n",
                  version=b"HTTP/1.0") + HIDDEN, [], why_te_cl),
    ]
    return cases


def content_length_cases():
    # Content-Length. Where a lax reader takes it as 5, GET /b follows the body (lenient);
    # where two readings differ, the hidden request sits between them.
    why_cl = "RFC 9110 §8.6: one Content-Length of digits, else 400"
    cases = []
    long = len(b"hello" + HIDDEN)
    for label, lines in [("twice, different", [b"Content-Length: 5", b"Content-Length: %d" % long]),
                         ("twice, different (long first)",
                          [b"Content-Length: %d" % long, b"Content-Length: 5"]),
                         ("as a list '5, 38'", [b"Content-Length: 5, %d" % long])]:
        cases.append(Case(f"CL {label}", post([b"Host: x", *lines], b"hello" + HIDDEN), [],
                          why_cl))
    for label, lines in [("twice, equal", [b"Content-Length: 5", b"Content-Length: 5"]),
                         ("as a list '5, 5'", [b"Content-Length: 5, 5"]),
                         ("with a plus sign", [b"Content-Length: +5"]),
                         ("in hex", [b"Content-Length: 0x5"]),
                         ("negative", [b"Content-Length: -5"]),
                         ("overflowing 64 bits", [b"Content-Length: 18446744073709551621"]),
                         ("folded (obs-fold)", [b"Content-Length:", b" 5"]),
                         ("with space before the colon", [b"Content-Length : 5"]),
                         ("with a space inside", [b"Content-Length: 5 0"])]:
        cases.append(Case(f"CL {label}", post([b"Host: x", *lines], b"hello" + NEXT), [],
                          why_cl))
    return cases


def chunked_cases():
    why_chunk = "RFC 9112 §7.1: chunk-size is 1*HEXDIG, lines end in CRLF"
    return [
        chunked_post(b"0x5\r\nhello\r\n0\r\n\r\n", why_chunk, name="chunk size with 0x"),
        chunked_post(b"fffffffffffffffff5\r\nhello\r\n0\r\n\r\n", why_chunk,
                     name="chunk size overflowing 64 bits"),
        chunked_post(b"5 \r\nhello\r\n0\r\n\r\n", why_chunk,
                     name="chunk size followed by a space"),
        chunked_post(b"-5\r\nhello\r\n0\r\n\r\n", why_chunk, name="negative chunk size"),
        chunked_post(b"5\nhello\r\n0\r\n\r\n", why_chunk, name="chunk size line ends in bare LF"),
        chunked_post(b"5\r\nhello\n0\r\n\r\n", why_chunk, name="chunk data ends in bare LF"),
        chunked_post(b"5\r\nhelloXX0\r\n\r\n", why_chunk, name="chunk data not followed by CRLF"),
        chunked_post(b"5\r\nhello\r\n0\n\n", why_chunk, name="last chunk ends in bare LFs"),
        chunked_post(b"5\r\nhello\r\n0\r\n", why_chunk, then=HIDDEN,
                     name="last chunk without the final CRLF (the next request as trailer)"),
        chunked_post(b"5;" + b"a" * 100_000 + b"\r\nhello\r\n0\r\n\r\n",
                     "a 100 KB chunk extension is refused at once, not after a timeout",
                     name="100 KB chunk extension"),
        chunked_post(b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n",
                     "obs-fold in trailers", expected_body=b"hello",
                     name="folded trailer (dropped with the trailers)"),
    ]


def head_cases():
    """Host and the head itself."""
    why_host = "RFC 9112 §3.2: HTTP/1.1 has exactly one valid Host, else 400"
    why_head = "RFC 9112 §2-§5: malformed heads are refused"
    return [
        Case("no Host in HTTP/1.1", b"GET /a?c=@@@ HTTP/1.1\r\n\r\n" + NEXT, [], why_host),
        Case("two Host fields", b"GET /a?c=@@@ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + NEXT, [],
             why_host),
        Case("Host with a space", b"GET /a?c=@@@ HTTP/1.1\r\nHost: a b\r\n\r\n" + NEXT, [],
             why_host),
        Case("Host with userinfo", b"GET /a?c=@@@ HTTP/1.1\r\nHost: u@x\r\n\r\n" + NEXT, [],
             why_host),
        Case("folded header line",
             b"GET /a?c=@@@ HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n" + NEXT, [], why_head),
        Case("whitespace before the first header",
             b"GET /a?c=@@@ HTTP/1.1\r\n Host: x\r\n\r\n" + NEXT, [], why_head),
        Case("space in a header name", b"GET /a?c=@@@ HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n" + NEXT,
             [], why_head),
        Case("NUL in a header value",
             b"GET /a?c=@@@ HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n" + NEXT, [], why_head),
        Case("bare CR in a header value",
             b"GET /a?c=@@@ HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n" + NEXT, [], why_head),
        Case("head lines end in bare LF", b"GET /a?c=@@@ HTTP/1.1\nHost: x\n\n" + NEXT, [],
             why_head),
        Case("two spaces in the request line", b"GET  /a?c=@@@ HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT,
             [], why_head),
        Case("lower-case protocol name", b"GET /a?c=@@@ http/1.1\r\nHost: x\r\n\r\n" + NEXT, [],
             why_head),
        Case("200 header fields (more than max_header_fields)",
             b"GET /a?c=@@@ HTTP/1.1\r\nHost: x\r\n"
             + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n" + NEXT, [],
             "a field-count limit: 431"),
    ]


CASES = (control_cases() + transfer_encoding_cases() + content_length_cases() + chunked_cases()
         + head_cases())


@dataclass
class Outcome:
    ran: list           # what the application ran (its log), as X-Ran tags, in order
    answered: list      # the X-Ran tags of the responses the client got
    statuses: list      # every response's status
    closed: bool        # the server closed the connection
    seconds: float      # until the last response or the close
    error: str = ""


def run_case(address, case, number, idle=0.6, timeout=15.0):
    """Sends case `number`'s bytes on a fresh connection and reads responses until the server
    closes or stays silent for `idle` seconds. `ran` is filled from the log afterwards."""
    start = time.monotonic()
    outcome = Outcome([], [], [], False, 0.0)
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except OSError as error:
        outcome.error = f"connect: {error}"
        return outcome
    with sock:
        try:
            sock.sendall(case.numbered(number))
        except OSError:
            pass  # the server may refuse before reading everything; read what it said
        reader = Reader(sock)
        while True:
            sock.settimeout(idle if outcome.statuses else timeout)
            try:
                response = reader.response()
            except (EOFError, ConnectionResetError, BrokenPipeError):
                outcome.closed = True
                break
            except TimeoutError:
                break
            except (ValueError, IndexError, AssertionError) as error:
                outcome.error = f"unreadable response: {error}"
                break
            outcome.statuses.append(response.status)
            tag = response.header("X-Ran")
            if tag:
                outcome.answered.append(tag)
            outcome.seconds = time.monotonic() - start
            if (response.header("Connection") or "").lower() == "close":
                outcome.closed = closed_by_peer(sock, 2.0)
                break
    return outcome


def classify(case, number, outcome):
    if any(" /hidden " in tag for tag in outcome.ran) and \
            not any(path == "/hidden" for _, path, _ in case.expected):
        return "DESYNC"
    # Compared as multisets: pipelined requests may run (and log) in any order.
    expected = Counter(case.expected_tags(number))
    ran = Counter(outcome.ran)
    if ran == expected:
        if case.closes and not outcome.closed:
            return "lenient"  # ran what it should, but kept the connection open after it
        return "strict"
    if not ran - expected:
        return "stricter"
    return "lenient"


def read_log(path):
    """{case number: [tags]} from the application's log ($DESYNC_LOG)."""
    runs = {}
    try:
        text = open(path).read()
    except FileNotFoundError:
        return runs
    for line in text.splitlines():
        number, tag = line.split(" ", 1)
        runs.setdefault(int(number), []).append(tag)
    return runs


def run_matrix(address, log_path, cases=CASES, threads=16):
    """{case name: (Outcome, verdict)}: the cases run concurrently, each on its own connection;
    the server's application must log to `log_path` ($DESYNC_LOG), read once all are done."""
    numbered = list(enumerate(cases))
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(lambda item: run_case(address, item[1], item[0]), numbered))
    time.sleep(0.3)  # a request still running when its connection closed logs a moment later
    runs = read_log(log_path)
    results = {}
    for (number, case), outcome in zip(numbered, outcomes, strict=True):
        outcome.ran = runs.get(number, [])
        results[case.name] = (outcome, classify(case, number, outcome))
    return results
