BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def plaintext(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
