"""psycopg2.extensions.encrypt_password: a password in the form PostgreSQL stores (md5 or
SCRAM-SHA-256), computed here the way libpq's PQencryptPassword[Conn] computes it."""

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata

from psycopg2._adapt_protocol import ensure_bytes
from psycopg2._exceptions import Error, ProgrammingError

_SCRAM_SALT_LENGTH = 16         # libpq's defaults
_SCRAM_DEFAULT_ITERATIONS = 4096


def encrypt_password(password, user, scope=None, algorithm=None):
    """The encrypted form of `password` for `user`: 'md5' needs nothing else; otherwise a
    connection or cursor (`scope`) whose server names the algorithm when `algorithm` is None."""
    conn = _scope_connection(scope)
    user = ensure_bytes(user)
    password = ensure_bytes(password)
    if algorithm is not None:
        algorithm = ensure_bytes(algorithm).decode("utf-8", "replace")
    if algorithm == "md5":
        return _md5(password, user)
    if conn is None:
        raise ProgrammingError("password encryption (other than 'md5' algorithm) "
                               "requires a connection or cursor")
    if algorithm is None:
        algorithm = _server_algorithm(conn)
    if algorithm in ("md5", "on", "off"):  # libpq reads on/off as md5 (old server settings)
        return _md5(password, user)
    if algorithm == "scram-sha-256":
        iterations = conn.get_parameter_status("scram_iterations")
        return _scram_sha_256(password, int(iterations or _SCRAM_DEFAULT_ITERATIONS))
    raise ProgrammingError("password encryption failed: "
                           'unrecognized password encryption algorithm "%s"\n' % algorithm)


def _scope_connection(scope):
    from psycopg2._connection import connection
    from psycopg2._cursor import cursor

    if scope is None or isinstance(scope, connection):
        return scope
    if isinstance(scope, cursor):
        return scope.connection
    raise TypeError("the scope must be a connection or a cursor")


def _server_algorithm(conn):
    # As libpq: asked on the session as it is, without opening a transaction.
    try:
        result = conn._execute(b"SHOW password_encryption", begin=False)
    except Error as e:
        raise ProgrammingError("password encryption failed: %s" % e) from None
    return result.value(0, 0).decode("utf-8", "replace")


def _md5(password, user):
    return "md5" + hashlib.md5(password + user).hexdigest()


def _scram_sha_256(password, iterations):
    """'SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>' (RFC 5802, 7677)."""
    salt = os.urandom(_SCRAM_SALT_LENGTH)
    salted = hashlib.pbkdf2_hmac("sha256", _saslprep(password), salt, iterations)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, _b64(salt), _b64(stored_key),
                                          _b64(server_key))


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


# RFC 3454 tables a SASLprep'd string may not contain (RFC 4013, section 2.3).
_PROHIBITED = (stringprep.in_table_c12, stringprep.in_table_c21_c22, stringprep.in_table_c3,
               stringprep.in_table_c4, stringprep.in_table_c5, stringprep.in_table_c6,
               stringprep.in_table_c7, stringprep.in_table_c8, stringprep.in_table_c9,
               stringprep.in_table_a1)


def _saslprep(password):
    """The password as the SCRAM key derivation takes it. Like libpq, a password that is not
    valid UTF-8 or that SASLprep refuses is used as it is."""
    try:
        text = password.decode("utf-8")
    except UnicodeDecodeError:
        return password
    if text.isascii():
        return password
    mapped = "".join(" " if stringprep.in_table_c12(ch) else ch
                     for ch in text if not stringprep.in_table_b1(ch))
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    if any(table(ch) for ch in prepared for table in _PROHIBITED):
        return password
    if any(stringprep.in_table_d1(ch) for ch in prepared):
        # Right-to-left text: no left-to-right character, and RandALCat at both ends.
        if any(stringprep.in_table_d2(ch) for ch in prepared) or \
                not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            return password
    return prepared.encode("utf-8")
