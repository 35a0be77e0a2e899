"""driver_common.py: what the Python driver programs share.

The table of supported types, the rows every driver round-trips through it,
and how values are compared.  Each program names only what its driver does
differently (the Python types it returns, how it binds JSON).
"""

import datetime
import decimal
import uuid

D = decimal.Decimal
UTC = datetime.timezone.utc

# (name, DDL type, type OID PostgreSQL reports, Python type most drivers return)
_COLUMNS = [
    ("b", "bool", 16, bool),
    ("i2", "int2", 21, int),
    ("i4", "int4", 23, int),
    ("i8", "int8", 20, int),
    ("f4", "float4", 700, float),
    ("f8", "float8", 701, float),
    ("n", "numeric", 1700, decimal.Decimal),
    ("t", "text", 25, str),
    ("vc", "varchar(20)", 1043, str),
    ("c", "char(5)", 1042, str),
    ("bt", "bytea", 17, bytes),
    ("d", "date", 1082, datetime.date),
    ("tm", "time", 1083, datetime.time),
    ("ts", "timestamp", 1114, datetime.datetime),
    ("tz", "timestamptz", 1184, datetime.datetime),
    ("u", "uuid", 2950, uuid.UUID),
    ("j", "json", 114, (dict, list)),
    ("jb", "jsonb", 3802, (dict, list)),
]


def columns(pytypes=None):
    """The column table, with the driver's own Python types by column name."""
    pytypes = pytypes or {}
    return [(n, ddl, oid, pytypes.get(n, t)) for n, ddl, oid, t in _COLUMNS]


NAMES = ["id"] + [c[0] for c in _COLUMNS]
J, JB = NAMES.index("j"), NAMES.index("jb")

ROWS = [
    (1, True, 32767, 2147483647, 9223372036854775807, 1.5, 3.141592653589793,
     D("12345678901234567890.123456789"), "héllo wörld ☃ 日本語 🐭", "varchar ✓", "ab",
     b"\x00\xff\x01\x80\x00", datetime.date(2024, 2, 29), datetime.time(13, 45, 30, 123456),
     datetime.datetime(2024, 2, 29, 13, 45, 30, 123456),
     datetime.datetime(2024, 2, 29, 13, 45, 30, 123456, tzinfo=UTC),
     uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
     {"a": [1, 2, {"b": None}], "s": "☃"}, {"k": "v", "n": 1.5, "t": True}),
    (2, False, -32768, -2147483648, -9223372036854775808, -0.5, -1e300,
     D("-98765.4321"), "it's \"quoted\" \\ tab\t newline\n end", "x", "abcde",
     bytes(range(256)), datetime.date(1999, 12, 31), datetime.time(23, 59, 59, 999999),
     datetime.datetime(1999, 12, 31, 23, 59, 59, 999999),
     datetime.datetime(1999, 12, 31, 18, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))),
     uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"), [], {"nested": {"arr": []}, "unicode": "日本"}),
    (3, False, 0, 0, 0, 0.0, 0.0, D("0"), "", "", "", b"", datetime.date(2000, 1, 1),
     datetime.time(0, 0), datetime.datetime(2000, 1, 1), datetime.datetime(2000, 1, 1, tzinfo=UTC),
     uuid.UUID(int=0), {}, []),
    (4,) + (None,) * len(_COLUMNS),
]


def expected_rows():
    out = []
    for r in ROWS:
        r = list(r)
        if r[10] is not None:
            r[10] = r[10].ljust(5)  # char(5) comes back blank-padded
        out.append(tuple(r))
    return out


class CheckFailed(Exception):
    pass


def same(a, b):
    """Equal values of the same kind: numerics compare by their text (scale
    matters), aware and naive datetimes never compare equal."""
    if isinstance(a, memoryview):
        a = bytes(a)
    if isinstance(b, memoryview):
        b = bytes(b)
    if isinstance(a, decimal.Decimal) or isinstance(b, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, datetime.datetime) and isinstance(b, datetime.datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return False
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    return a == b


def compare_rows(expected, actual, decode=None):
    """decode(column index, value) turns what the driver returned into a
    Python value where the driver leaves it encoded (asyncpg's JSON text)."""
    if len(expected) != len(actual):
        raise CheckFailed(f"{len(actual)} rows, expected {len(expected)}: {actual!r}")
    for e, a in zip(expected, actual):
        for i, (name, ev, av) in enumerate(zip(NAMES, e, a)):
            if decode:
                av = decode(i, av)
            if not same(ev, av):
                raise CheckFailed(f"row id={e[0]} column {name}: expected {ev!r}, got {av!r}")
