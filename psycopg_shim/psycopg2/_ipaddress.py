"""register_ipaddress(): inet/cidr values as `ipaddress` objects, and those adapted back."""

import ipaddress

from psycopg2._adapt import QuotedString, register_adapter
from psycopg2._typecast import new_array_type, new_type, register_type

INET_OID, INET_ARRAY_OID = 869, 1041
CIDR_OID, CIDR_ARRAY_OID = 650, 651

_casters = None  # made on the first register_ipaddress() call, then reused


def register_ipaddress(conn_or_curs=None):
    """Cast inet to IPv4Interface/IPv6Interface and cidr to IPv4Network/IPv6Network
    (and their arrays), on `conn_or_curs` or globally if None; adapt these four types.

    Plain IPv4Address/IPv6Address objects are not adapted, as in psycopg2.
    """
    global _casters
    if _casters is None:
        _casters = _make_casters()
    for caster in _casters:
        register_type(caster, conn_or_curs)
    for ip_type in (ipaddress.IPv4Interface, ipaddress.IPv6Interface,
                    ipaddress.IPv4Network, ipaddress.IPv6Network):
        register_adapter(ip_type, adapt_ipaddress)


def _make_casters():
    inet = new_type((INET_OID,), 'INET', cast_interface)
    cidr = new_type((CIDR_OID,), 'CIDR', cast_network)
    return [inet, new_array_type((INET_ARRAY_OID,), 'INET[]', inet),
            cidr, new_array_type((CIDR_ARRAY_OID,), 'CIDR[]', cidr)]


def cast_interface(s, cur=None):
    return None if s is None else ipaddress.ip_interface(str(s))


def cast_network(s, cur=None):
    return None if s is None else ipaddress.ip_network(str(s))


def adapt_ipaddress(obj):
    return QuotedString(str(obj))
