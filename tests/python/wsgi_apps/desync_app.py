"""The application of the request-smuggling matrix (desync_cases.py): plain WSGI, so that puff,
gunicorn and granian serve the same thing. It answers only after reading the whole body, and
says in X-Ran which request it ran with which body. It also appends that to the file named by
$DESYNC_LOG with the case number of the query string (`?c=NNN`): a request whose response a
server dropped still shows there, so what the application ran is known, not guessed."""
import hashlib
import os


def body_tag(method, path, body):
    return f"{method} {path} {len(body)} {hashlib.sha1(body).hexdigest()[:12]}"


def app(environ, start_response):
    body = environ["wsgi.input"].read()
    tag = body_tag(environ["REQUEST_METHOD"], environ["PATH_INFO"], body)
    query = environ.get("QUERY_STRING", "")
    log = os.environ.get("DESYNC_LOG")
    if log and query.startswith("c="):
        with open(log, "a") as out:  # one short O_APPEND write: whole lines across processes
            out.write(f"{query[2:]} {tag}\n")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2"),
                              ("X-Ran", tag)])
    return [b"ok"]
