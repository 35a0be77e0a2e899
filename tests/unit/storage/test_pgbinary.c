/*
 * Tests for storage/pgbinary.c: PostgreSQL's binary format of numeric, uuid
 * and the date/time types, both directions.
 *
 * The vectors come from a real PostgreSQL 15 (TimeZone UTC, DateStyle ISO,
 * IntervalStyle postgres): for text input, what `type_send(text::type)`
 * returned and what `text::type::text` printed, or the SQLSTATE it failed
 * with; for binary input, what a parameter bound in binary printed as text
 * (psycopg with a raw binary dumper), or its SQLSTATE.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dormouse/wire.h"
#include "pgbinary.h"

struct vec_ok {
    uint32_t oid;
    const char *text;   /* input text */
    const char *hex;    /* PostgreSQL's *_send of it */
    const char *output; /* PostgreSQL's text output of it; NULL: too long to list */
};

struct vec_err {
    uint32_t oid;
    const char *text;
    pgbin_status status;
};

struct vec_recv {
    uint32_t oid;
    const char *hex;     /* binary input */
    pgbin_status status; /* PGBIN_OK, or the failure PostgreSQL reports */
    const char *output;  /* PGBIN_OK: PostgreSQL's text of the value */
};

/* text -> binary and text: *_send(text::type), text::type::text */
static const struct vec_ok vectors_ok[] = {
    {WIRE_OID_NUMERIC, "0", "0000000000000000", "0"},
    {WIRE_OID_NUMERIC, "0.00", "0000000000000002", "0.00"},
    {WIRE_OID_NUMERIC, "-0", "0000000000000000", "0"},
    {WIRE_OID_NUMERIC, "-0.00", "0000000000000002", "0.00"},
    {WIRE_OID_NUMERIC, "1", "00010000000000000001", "1"},
    {WIRE_OID_NUMERIC, "-1", "00010000400000000001", "-1"},
    {WIRE_OID_NUMERIC, "-12345.678", "0003000140000003000109291a7c", "-12345.678"},
    {WIRE_OID_NUMERIC, "NaN", "00000000c0000000", "NaN"},
    {WIRE_OID_NUMERIC, "Infinity", "00000000d0000020", "Infinity"},
    {WIRE_OID_NUMERIC, "-Infinity", "00000000f0000020", "-Infinity"},
    {WIRE_OID_NUMERIC, "inf", "00000000d0000020", "Infinity"},
    {WIRE_OID_NUMERIC, "-inf", "00000000f0000020", "-Infinity"},
    {WIRE_OID_NUMERIC, "+inf", "00000000d0000020", "Infinity"},
    {WIRE_OID_NUMERIC, " nan ", "00000000c0000000", "NaN"},
    {WIRE_OID_NUMERIC, "12345678901234567890.123456789",
     "000800040000000904d2162e23340d801ed204d2162e2328", "12345678901234567890.123456789"},
    {WIRE_OID_NUMERIC, "0.0001", "0001ffff000000040001", "0.0001"},
    {WIRE_OID_NUMERIC, "1e-20", "0001fffb000000140001", "0.00000000000000000001"},
    {WIRE_OID_NUMERIC, "100000", "0001000100000000000a", "100000"},
    {WIRE_OID_NUMERIC, "1.5e3", "000100000000000005dc", "1500"},
    {WIRE_OID_NUMERIC, "-0.50", "0001ffff400000021388", "-0.50"},
    {WIRE_OID_NUMERIC, "1.5e-3", "0001ffff00000004000f", "0.0015"},
    {WIRE_OID_NUMERIC, "10000", "00010001000000000001", "10000"},
    {WIRE_OID_NUMERIC, "9999", "0001000000000000270f", "9999"},
    {WIRE_OID_NUMERIC, "0.1", "0001ffff0000000103e8", "0.1"},
    {WIRE_OID_NUMERIC, ".5", "0001ffff000000011388", "0.5"},
    {WIRE_OID_NUMERIC, "5.", "00010000000000000005", "5"},
    {WIRE_OID_NUMERIC, "007", "00010000000000000007", "7"},
    {WIRE_OID_NUMERIC, "  12  ", "0001000000000000000c", "12"},
    {WIRE_OID_NUMERIC, "1e3", "000100000000000003e8", "1000"},
    {WIRE_OID_NUMERIC, "1E+3", "000100000000000003e8", "1000"},
    {WIRE_OID_NUMERIC, "-1.5E-3", "0001ffff40000004000f", "-0.0015"},
    {WIRE_OID_NUMERIC, "123456789012345678901234567890",
     "0008000700000000000c0d801ed204d2162e23340d801ed2", "123456789012345678901234567890"},
    {WIRE_OID_NUMERIC, "0.00001234", "0001fffe0000000804d2", "0.00001234"},
    {WIRE_OID_NUMERIC, "10000.0001", "0003000100000004000100000001", "10000.0001"},
    {WIRE_OID_NUMERIC, "99999999", "0002000100000000270f270f", "99999999"},
    {WIRE_OID_NUMERIC, "0.000000001", "0001fffd0000000903e8", "0.000000001"},
    {WIRE_OID_NUMERIC, "3.14159", "0003000000000005000305872328", "3.14159"},
    {WIRE_OID_NUMERIC, "+.5", "0001ffff000000011388", "0.5"},
    {WIRE_OID_NUMERIC, "-.5e1", "00010000400000000005", "-5"},
    {WIRE_OID_NUMERIC, "12.3456e2", "000200000000000204d215e0", "1234.56"},
    {WIRE_OID_NUMERIC, "-0.0e5", "0000000000000000", "0"},
    {WIRE_OID_NUMERIC, "1e-16383", "0001f00000003fff000a", NULL},
    {WIRE_OID_NUMERIC, "0e999999", "0000000000000000", "0"},
    {WIRE_OID_NUMERIC, "1000000000000000000000.5", "0007000500000001000a000000000000000000001388",
     "1000000000000000000000.5"},
    {WIRE_OID_NUMERIC, "-99999999999999999999999999.99999999",
     "00090006400000080063270f270f270f270f270f270f270f270f",
     "-99999999999999999999999999.99999999"},
    {WIRE_OID_UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {WIRE_OID_UUID, "{a0eebc999c0b4ef8bb6d6bb9bd380a11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {WIRE_OID_UUID, "a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {WIRE_OID_UUID, "00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000",
     "00000000-0000-0000-0000-000000000000"},
    {WIRE_OID_UUID, "ffffffff-ffff-ffff-ffff-ffffffffffff", "ffffffffffffffffffffffffffffffff",
     "ffffffff-ffff-ffff-ffff-ffffffffffff"},
    {WIRE_OID_UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc999c0b4ef8bb6d6bb9bd380a11",
     "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {WIRE_OID_DATE, "2000-01-01", "00000000", "2000-01-01"},
    {WIRE_OID_DATE, "1999-12-31", "ffffffff", "1999-12-31"},
    {WIRE_OID_DATE, "2000-03-01", "0000003c", "2000-03-01"},
    {WIRE_OID_DATE, "2020-02-29", "00001cc4", "2020-02-29"},
    {WIRE_OID_DATE, "0001-01-01", "fff4dbf9", "0001-01-01"},
    {WIRE_OID_DATE, "0001-12-31 BC", "fff4dbf8", "0001-12-31 BC"},
    {WIRE_OID_DATE, "0044-03-15 BC", "fff49d7b", "0044-03-15 BC"},
    {WIRE_OID_DATE, "4713-11-24 BC", "ffda9915", "4713-11-24 BC"},
    {WIRE_OID_DATE, "4714-11-24 BC", "ffda97a7", "4714-11-24 BC"},
    {WIRE_OID_DATE, "5874897-12-31", "7fda970c", "5874897-12-31"},
    {WIRE_OID_DATE, "infinity", "7fffffff", "infinity"},
    {WIRE_OID_DATE, "-infinity", "80000000", "-infinity"},
    {WIRE_OID_DATE, "1970-01-01", "ffffd533", "1970-01-01"},
    {WIRE_OID_DATE, "epoch", "ffffd533", "1970-01-01"},
    {WIRE_OID_DATE, "2024-07-04 13:14:15", "000022f7", "2024-07-04"},
    {WIRE_OID_DATE, "10000-01-01", "002c95d4", "10000-01-01"},
    {WIRE_OID_DATE, "2000-01-01 AD", "00000000", "2000-01-01"},
    {WIRE_OID_DATE, "20200229", "00001cc4", "2020-02-29"},
    {WIRE_OID_DATE, "1900-02-28", "ffff718e", "1900-02-28"},
    {WIRE_OID_DATE, "2100-03-01", "00008ee8", "2100-03-01"},
    {WIRE_OID_DATE, "2000-02-29", "0000003b", "2000-02-29"},
    {WIRE_OID_DATE, "2020-1-5", "00001c8d", "2020-01-05"},
    {WIRE_OID_DATE, "999-01-01", "fffa6bd9", "0999-01-01"},
    {WIRE_OID_DATE, " 2020-01-01 ", "00001c89", "2020-01-01"},
    {WIRE_OID_DATE, "2020-01-01T10:00", "00001c89", "2020-01-01"},
    {WIRE_OID_DATE, "2020-01-01 BC", "ffe999fb", "2020-01-01 BC"},
    {WIRE_OID_DATE, "2020-01-01 12:00+05", "00001c89", "2020-01-01"},
    {WIRE_OID_DATE, "1600-02-29", "fffdc58a", "1600-02-29"},
    {WIRE_OID_DATE, "0005-02-29 BC", "fff4d511", "0005-02-29 BC"},
    {WIRE_OID_DATE, "INFINITY", "7fffffff", "infinity"},
    {WIRE_OID_TIME, "00:00:00", "0000000000000000", "00:00:00"},
    {WIRE_OID_TIME, "24:00:00", "000000141dd76000", "24:00:00"},
    {WIRE_OID_TIME, "12:34:56.789", "0000000a8be62608", "12:34:56.789"},
    {WIRE_OID_TIME, "23:59:59.999999", "000000141dd75fff", "23:59:59.999999"},
    {WIRE_OID_TIME, "12:00:00.1234567", "0000000a0eed9241", "12:00:00.123457"},
    {WIRE_OID_TIME, "12:00", "0000000a0eebb000", "12:00:00"},
    {WIRE_OID_TIME, "04:05:06.5", "000000036c9361a0", "04:05:06.5"},
    {WIRE_OID_TIME, "allballs", "0000000000000000", "00:00:00"},
    {WIRE_OID_TIME, "2020-01-01 10:11:12", "0000000889d25000", "10:11:12"},
    {WIRE_OID_TIME, "T10:11:12", "0000000889d25000", "10:11:12"},
    {WIRE_OID_TIME, "101112", "0000000889d25000", "10:11:12"},
    {WIRE_OID_TIME, "12:00:00.0000005", "0000000a0eebb000", "12:00:00"},
    {WIRE_OID_TIME, "12:00:00.0000015", "0000000a0eebb002", "12:00:00.000002"},
    {WIRE_OID_TIME, "1:2:3", "00000000dde878c0", "01:02:03"},
    {WIRE_OID_TIME, "23:59:60", "000000141dd76000", "24:00:00"},
    {WIRE_OID_TIME, "23:59:59.9999999", "000000141dd76000", "24:00:00"},
    {WIRE_OID_TIME, "12:00:00+05", "0000000a0eebb000", "12:00:00"},
    {WIRE_OID_TIME, "12:00:00.5 ", "0000000a0ef35120", "12:00:00.5"},
    {WIRE_OID_TIME, "1200", "0000000a0eebb000", "12:00:00"},
    {WIRE_OID_TIME, "00:00:00.000001", "0000000000000001", "00:00:00.000001"},
    {WIRE_OID_TIMETZ, "12:00:00+05", "0000000a0eebb000ffffb9b0", "12:00:00+05"},
    {WIRE_OID_TIMETZ, "12:00:00-05:30", "0000000a0eebb00000004d58", "12:00:00-05:30"},
    {WIRE_OID_TIMETZ, "12:00:00Z", "0000000a0eebb00000000000", "12:00:00+00"},
    {WIRE_OID_TIMETZ, "12:00:00", "0000000a0eebb00000000000", "12:00:00+00"},
    {WIRE_OID_TIMETZ, "04:05:06.789-08", "000000036c97ca8800007080", "04:05:06.789-08"},
    {WIRE_OID_TIMETZ, "00:00:00+15:59:59", "0000000000000000ffff1f01", "00:00:00+15:59:59"},
    {WIRE_OID_TIMETZ, "23:59:59.5+01:02:03", "000000141dcfbee0fffff175", "23:59:59.5+01:02:03"},
    {WIRE_OID_TIMETZ, "12:00:00 UTC", "0000000a0eebb00000000000", "12:00:00+00"},
    {WIRE_OID_TIMETZ, "12:00:00+0530", "0000000a0eebb000ffffb2a8", "12:00:00+05:30"},
    {WIRE_OID_TIMETZ, "24:00:00+01", "000000141dd76000fffff1f0", "24:00:00+01"},
    {WIRE_OID_TIMETZ, "2020-01-01 12:00:00+02", "0000000a0eebb000ffffe3e0", "12:00:00+02"},
    {WIRE_OID_TIMETZ, "12:00:00-15:59:59", "0000000a0eebb0000000e0ff", "12:00:00-15:59:59"},
    {WIRE_OID_TIMETZ, "12:00:00 -03", "0000000a0eebb00000002a30", "12:00:00-03"},
    {WIRE_OID_TIMETZ, "12:00:00+00:00:01", "0000000a0eebb000ffffffff", "12:00:00+00:00:01"},
    {WIRE_OID_TIMESTAMP, "2000-01-01 00:00:00", "0000000000000000", "2000-01-01 00:00:00"},
    {WIRE_OID_TIMESTAMP, "1999-12-31 23:59:59.999999", "ffffffffffffffff",
     "1999-12-31 23:59:59.999999"},
    {WIRE_OID_TIMESTAMP, "2020-02-29T12:34:56.5", "000242b4f3473d20", "2020-02-29 12:34:56.5"},
    {WIRE_OID_TIMESTAMP, "0001-01-01 00:00:00", "ff1fe2ffc59c6000", "0001-01-01 00:00:00"},
    {WIRE_OID_TIMESTAMP, "0044-03-15 12:00:00 BC", "ff1af9e8fb46d000", "0044-03-15 12:00:00 BC"},
    {WIRE_OID_TIMESTAMP, "4713-11-24 00:00:00 BC", "fd0f9983eb0ae000", "4713-11-24 00:00:00 BC"},
    {WIRE_OID_TIMESTAMP, "4714-11-24 00:00:00 BC", "fd0f7cc1411fa000", "4714-11-24 00:00:00 BC"},
    {WIRE_OID_TIMESTAMP, "294276-12-31 23:59:59.999999", "7fffff5bb3b29fff",
     "294276-12-31 23:59:59.999999"},
    {WIRE_OID_TIMESTAMP, "infinity", "7fffffffffffffff", "infinity"},
    {WIRE_OID_TIMESTAMP, "-infinity", "8000000000000000", "-infinity"},
    {WIRE_OID_TIMESTAMP, "epoch", "fffca2fec4c82000", "1970-01-01 00:00:00"},
    {WIRE_OID_TIMESTAMP, "2020-01-01", "00023e0786c26000", "2020-01-01 00:00:00"},
    {WIRE_OID_TIMESTAMP, "2020-01-01 12:00:00+05", "00023e1195ae1000", "2020-01-01 12:00:00"},
    {WIRE_OID_TIMESTAMP, "2024-07-04 13:14", "0002bf6a7d1e5600", "2024-07-04 13:14:00"},
    {WIRE_OID_TIMESTAMP, "1970-01-01 00:00:00.000001", "fffca2fec4c82001",
     "1970-01-01 00:00:00.000001"},
    {WIRE_OID_TIMESTAMP, "1969-12-31 23:59:59.5", "fffca2fec4c07ee0", "1969-12-31 23:59:59.5"},
    {WIRE_OID_TIMESTAMP, "2020-01-01 24:00:00", "00023e1ba499c000", "2020-01-02 00:00:00"},
    {WIRE_OID_TIMESTAMP, "2020-01-01 23:59:60", "00023e1ba499c000", "2020-01-02 00:00:00"},
    {WIRE_OID_TIMESTAMP, "20200101T120000", "00023e1195ae1000", "2020-01-01 12:00:00"},
    {WIRE_OID_TIMESTAMP, "2020-01-01 12:00:00.123456789", "00023e1195aff241",
     "2020-01-01 12:00:00.123457"},
    {WIRE_OID_TIMESTAMP, "0001-12-31 23:59:59.999999 BC", "ff1fe2ffc59c5fff",
     "0001-12-31 23:59:59.999999 BC"},
    {WIRE_OID_TIMESTAMP, "2000-02-29 00:00:00", "000004a2e0a32000", "2000-02-29 00:00:00"},
    {WIRE_OID_TIMESTAMP, "1900-03-01 00:00:00", "fff4ce915caea000", "1900-03-01 00:00:00"},
    {WIRE_OID_TIMESTAMPTZ, "2000-01-01 00:00:00+00", "0000000000000000", "2000-01-01 00:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-02-29 12:34:56.5-05", "000242b924297120",
     "2020-02-29 17:34:56.5+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-02-29T12:34:56+05:30", "000242b057139600",
     "2020-02-29 07:04:56+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-02-29 12:34:56Z", "000242b4f33f9c00", "2020-02-29 12:34:56+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-02-29 12:34:56", "000242b4f33f9c00", "2020-02-29 12:34:56+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-02-29 12:34:56 UTC", "000242b4f33f9c00", "2020-02-29 12:34:56+00"},
    {WIRE_OID_TIMESTAMPTZ, "0044-03-15 12:00:00+00 BC", "ff1af9e8fb46d000",
     "0044-03-15 12:00:00+00 BC"},
    {WIRE_OID_TIMESTAMPTZ, "infinity", "7fffffffffffffff", "infinity"},
    {WIRE_OID_TIMESTAMPTZ, "-infinity", "8000000000000000", "-infinity"},
    {WIRE_OID_TIMESTAMPTZ, "1999-12-31 23:00:00-01", "0000000000000000", "2000-01-01 00:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01", "00023e0786c26000", "2020-01-01 00:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-06-01 00:00:00+0530", "000249f4a2775a00",
     "2020-05-31 18:30:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-06-01 00:00:00-05:30:15", "000249fddbb447c0",
     "2020-06-01 05:30:15+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-06-01 00:00:00 +02", "000249f7917c1800", "2020-05-31 22:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-06-01 00:00:00 GMT", "000249f93ea36000", "2020-06-01 00:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-06-01T00:00:00.123Z", "000249f93ea54078",
     "2020-06-01 00:00:00.123+00"},
    {WIRE_OID_TIMESTAMPTZ, "4714-11-24 00:00:00-01 BC", "fd0f7cc217b34400",
     "4714-11-24 01:00:00+00 BC"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00 +05 BC", "fe3d6b3b38949c00",
     "2020-01-01 07:00:00+00 BC"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00 BC +05", "fe3d6b3b38949c00",
     "2020-01-01 07:00:00+00 BC"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00+5", "00023e0d64cbdc00", "2020-01-01 07:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00+530", "00023e0cf9820a00", "2020-01-01 06:30:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00z", "00023e1195ae1000", "2020-01-01 12:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00 utc", "00023e1195ae1000", "2020-01-01 12:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01T12:00Z", "00023e1195ae1000", "2020-01-01 12:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00 AD", "00023e1195ae1000", "2020-01-01 12:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "1970-01-01 00:00:00+00", "fffca2fec4c82000", "1970-01-01 00:00:00+00"},
    {WIRE_OID_TIMESTAMPTZ, "2020-12-31 23:30:00-01", "00025aca9bf77200", "2021-01-01 00:30:00+00"},
    {WIRE_OID_INTERVAL, "1 year 2 mons 3 days 04:05:06.5", "000000036c9361a0000000030000000e",
     "1 year 2 mons 3 days 04:05:06.5"},
    {WIRE_OID_INTERVAL, "-00:00:01", "fffffffffff0bdc00000000000000000", "-00:00:01"},
    {WIRE_OID_INTERVAL, "00:00:00", "00000000000000000000000000000000", "00:00:00"},
    {WIRE_OID_INTERVAL, "0", "00000000000000000000000000000000", "00:00:00"},
    {WIRE_OID_INTERVAL, "1 day", "00000000000000000000000100000000", "1 day"},
    {WIRE_OID_INTERVAL, "-1 days", "0000000000000000ffffffff00000000", "-1 days"},
    {WIRE_OID_INTERVAL, "1 year", "0000000000000000000000000000000c", "1 year"},
    {WIRE_OID_INTERVAL, "-1 year", "000000000000000000000000fffffff4", "-1 years"},
    {WIRE_OID_INTERVAL, "2 years", "00000000000000000000000000000018", "2 years"},
    {WIRE_OID_INTERVAL, "1 mon", "00000000000000000000000000000001", "1 mon"},
    {WIRE_OID_INTERVAL, "-1 mons -2 days +03:00:00", "0000000283baec00fffffffeffffffff",
     "-1 mons -2 days +03:00:00"},
    {WIRE_OID_INTERVAL, "P1Y2M3DT4H5M6S", "000000036c8bc080000000030000000e",
     "1 year 2 mons 3 days 04:05:06"},
    {WIRE_OID_INTERVAL, "P1W", "00000000000000000000000700000000", "7 days"},
    {WIRE_OID_INTERVAL, "PT0.5S", "000000000007a1200000000000000000", "00:00:00.5"},
    {WIRE_OID_INTERVAL, "P-1Y", "000000000000000000000000fffffff4", "-1 years"},
    {WIRE_OID_INTERVAL, "PT36H", "0000001e2cc310000000000000000000", "36:00:00"},
    {WIRE_OID_INTERVAL, "1.5 years", "00000000000000000000000000000012", "1 year 6 mons"},
    {WIRE_OID_INTERVAL, "1.5 months", "00000000000000000000000f00000001", "1 mon 15 days"},
    {WIRE_OID_INTERVAL, "1.5 days", "0000000a0eebb0000000000100000000", "1 day 12:00:00"},
    {WIRE_OID_INTERVAL, "1.5 hours", "0000000141dd76000000000000000000", "01:30:00"},
    {WIRE_OID_INTERVAL, "@ 1 day 2 hours ago", "fffffffe52d8b800ffffffff00000000",
     "-1 days -02:00:00"},
    {WIRE_OID_INTERVAL, "1 day ago", "0000000000000000ffffffff00000000", "-1 days"},
    {WIRE_OID_INTERVAL, "100:00:00", "00000053d1ac10000000000000000000", "100:00:00"},
    {WIRE_OID_INTERVAL, "3 04:05:06", "000000036c8bc0800000000300000000", "3 days 04:05:06"},
    {WIRE_OID_INTERVAL, "1-2", "0000000000000000000000000000000e", "1 year 2 mons"},
    {WIRE_OID_INTERVAL, "-1-2", "000000000000000000000000fffffff2", "-1 years -2 mons"},
    {WIRE_OID_INTERVAL, "5", "00000000004c4b400000000000000000", "00:00:05"},
    {WIRE_OID_INTERVAL, "-1 2:03:04", "00000001b81ee600ffffffff00000000", "-1 days +02:03:04"},
    {WIRE_OID_INTERVAL, "1 week", "00000000000000000000000700000000", "7 days"},
    {WIRE_OID_INTERVAL, "1 decade", "00000000000000000000000000000078", "10 years"},
    {WIRE_OID_INTERVAL, "1 century", "000000000000000000000000000004b0", "100 years"},
    {WIRE_OID_INTERVAL, "1 millennium", "00000000000000000000000000002ee0", "1000 years"},
    {WIRE_OID_INTERVAL, "10 ms", "00000000000027100000000000000000", "00:00:00.01"},
    {WIRE_OID_INTERVAL, "10 us", "000000000000000a0000000000000000", "00:00:00.00001"},
    {WIRE_OID_INTERVAL, "1 minute 30 seconds", "00000000055d4a800000000000000000", "00:01:30"},
    {WIRE_OID_INTERVAL, "-1.5 days", "fffffff5f1145000ffffffff00000000", "-1 days -12:00:00"},
    {WIRE_OID_INTERVAL, "178956970 years 7 mons", "0000000000000000000000007fffffff",
     "178956970 years 7 mons"},
    {WIRE_OID_INTERVAL, "-178956970 years -8 mons", "00000000000000000000000080000000",
     "-178956970 years -8 mons"},
    {WIRE_OID_INTERVAL, "2147483647 days", "00000000000000007fffffff00000000", "2147483647 days"},
    {WIRE_OID_INTERVAL, "-2147483648 days", "00000000000000008000000000000000", "-2147483648 days"},
    {WIRE_OID_INTERVAL, "1 h 2 m 3 s", "00000000dde878c00000000000000000", "01:02:03"},
    {WIRE_OID_INTERVAL, "P1.5Y", "00000000000000000000000000000012", "1 year 6 mons"},
    {WIRE_OID_INTERVAL, "PT1.5M", "00000000055d4a800000000000000000", "00:01:30"},
    {WIRE_OID_INTERVAL, "P1DT-1H", "ffffffff296c5c000000000100000000", "1 day -01:00:00"},
    {WIRE_OID_INTERVAL, "1 day -00:00:01", "fffffffffff0bdc00000000100000000", "1 day -00:00:01"},
    {WIRE_OID_INTERVAL, "-23:59:59.999999", "ffffffebe228a0010000000000000000", "-23:59:59.999999"},
    {WIRE_OID_INTERVAL, "1 mon -1 day", "0000000000000000ffffffff00000001", "1 mon -1 days"},
    {WIRE_OID_INTERVAL, "01:02", "00000000ddbab2000000000000000000", "01:02:00"},
    {WIRE_OID_INTERVAL, "1:2:3.25", "00000000ddec49500000000000000000", "01:02:03.25"},
    {WIRE_OID_INTERVAL, "2 weeks 3 days", "00000000000000000000001100000000", "17 days"},
    {WIRE_OID_INTERVAL, "P0D", "00000000000000000000000000000000", "00:00:00"},
    {WIRE_OID_INTERVAL, "PT0S", "00000000000000000000000000000000", "00:00:00"},
    {WIRE_OID_INTERVAL, "0.000001 s", "00000000000000010000000000000000", "00:00:00.000001"},
    {WIRE_OID_INTERVAL, "1 sec", "00000000000f42400000000000000000", "00:00:01"},
    {WIRE_OID_INTERVAL, "3 mins", "000000000aba95000000000000000000", "00:03:00"},
    {WIRE_OID_INTERVAL, "1 yr 2 hrs", "00000001ad274800000000000000000c", "1 year 02:00:00"},
    {WIRE_OID_INTERVAL, "10ms", "00000000000027100000000000000000", "00:00:00.01"},
    {WIRE_OID_INTERVAL, "1day", "00000000000000000000000100000000", "1 day"},
    {WIRE_OID_INTERVAL, "+3 hours", "0000000283baec000000000000000000", "03:00:00"},
    {WIRE_OID_INTERVAL, "0.5 mons", "00000000000000000000000f00000000", "15 days"},
    {WIRE_OID_INTERVAL, "1.25 weeks", "0000000f166188000000000800000000", "8 days 18:00:00"},
    {WIRE_OID_INTERVAL, "2562047788:00:54.775807", "7fffffffffffffff0000000000000000",
     "2562047788:00:54.775807"},
    {WIRE_OID_INTERVAL, "1 day 2", "00000000001e84800000000100000000", "1 day 00:00:02"},
    {WIRE_OID_INTERVAL, "P1M", "00000000000000000000000000000001", "1 mon"},
    {WIRE_OID_INTERVAL, "PT1M", "00000000039387000000000000000000", "00:01:00"},
    {WIRE_OID_INTERVAL, "P0.5M", "00000000000000000000000f00000000", "15 days"},
    {WIRE_OID_INTERVAL, "12:30.5", "000000002cbbb8a00000000000000000", "00:12:30.5"},
    {WIRE_OID_INTERVAL, "-1 years 2 mons", "000000000000000000000000fffffff6", "-10 mons"},
    {WIRE_OID_INTERVAL, "1 year -2 mons", "0000000000000000000000000000000a", "10 mons"},
    {WIRE_OID_INTERVAL, "1 mon 1 day ago", "0000000000000000ffffffffffffffff", "-1 mons -1 days"},
    {WIRE_OID_INTERVAL, "PT", "00000000000000000000000000000000", "00:00:00"},
};
/* text PostgreSQL rejects, with the class of its SQLSTATE */
static const struct vec_err vectors_err[] = {
    {WIRE_OID_NUMERIC, "abc", PGBIN_SYNTAX},                                /* 22P02 */
    {WIRE_OID_NUMERIC, "", PGBIN_SYNTAX},                                   /* 22P02 */
    {WIRE_OID_NUMERIC, ".", PGBIN_SYNTAX},                                  /* 22P02 */
    {WIRE_OID_NUMERIC, "1e", PGBIN_SYNTAX},                                 /* 22P02 */
    {WIRE_OID_NUMERIC, "1e+", PGBIN_SYNTAX},                                /* 22P02 */
    {WIRE_OID_NUMERIC, "+-1", PGBIN_SYNTAX},                                /* 22P02 */
    {WIRE_OID_NUMERIC, "1.2.3", PGBIN_SYNTAX},                              /* 22P02 */
    {WIRE_OID_NUMERIC, "NaNx", PGBIN_SYNTAX},                               /* 22P02 */
    {WIRE_OID_NUMERIC, "1 2", PGBIN_SYNTAX},                                /* 22P02 */
    {WIRE_OID_NUMERIC, "0x10", PGBIN_SYNTAX},                               /* 22P02 */
    {WIRE_OID_NUMERIC, "1_000", PGBIN_SYNTAX},                              /* 22P02 */
    {WIRE_OID_NUMERIC, "--1", PGBIN_SYNTAX},                                /* 22P02 */
    {WIRE_OID_NUMERIC, "1e131072", PGBIN_RANGE},                            /* 22003 */
    {WIRE_OID_NUMERIC, "1e-16384", PGBIN_RANGE},                            /* 22003 */
    {WIRE_OID_NUMERIC, "0e-20000", PGBIN_RANGE},                            /* 22003 */
    {WIRE_OID_NUMERIC, "1e2147483647", PGBIN_RANGE},                        /* 22003 */
    {WIRE_OID_NUMERIC, "e5", PGBIN_SYNTAX},                                 /* 22P02 */
    {WIRE_OID_NUMERIC, "-", PGBIN_SYNTAX},                                  /* 22P02 */
    {WIRE_OID_NUMERIC, "Infinityx", PGBIN_SYNTAX},                          /* 22P02 */
    {WIRE_OID_NUMERIC, "1..2", PGBIN_SYNTAX},                               /* 22P02 */
    {WIRE_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", PGBIN_SYNTAX},   /* 22P02 */
    {WIRE_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111", PGBIN_SYNTAX}, /* 22P02 */
    {WIRE_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", PGBIN_SYNTAX},  /* 22P02 */
    {WIRE_OID_UUID, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", PGBIN_SYNTAX}, /* 22P02 */
    {WIRE_OID_UUID, "a0eeb-c99-9c0b-4ef8-bb6d-6bb9bd380a11", PGBIN_SYNTAX}, /* 22P02 */
    {WIRE_OID_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", PGBIN_SYNTAX}, /* 22P02 */
    {WIRE_OID_UUID, " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", PGBIN_SYNTAX}, /* 22P02 */
    {WIRE_OID_UUID, "", PGBIN_SYNTAX},                                      /* 22P02 */
    {WIRE_OID_DATE, "+infinity", PGBIN_SYNTAX},                             /* 22007 */
    {WIRE_OID_DATE, "0004-02-29 BC", PGBIN_RANGE},                          /* 22008 */
    {WIRE_OID_DATE, "4714-11-23 BC", PGBIN_RANGE},                          /* 22008 */
    {WIRE_OID_DATE, "5874898-01-01", PGBIN_RANGE},                          /* 22008 */
    {WIRE_OID_DATE, "0000-01-01", PGBIN_RANGE},                             /* 22008 */
    {WIRE_OID_DATE, "2020-02-30", PGBIN_RANGE},                             /* 22008 */
    {WIRE_OID_DATE, "2019-02-29", PGBIN_RANGE},                             /* 22008 */
    {WIRE_OID_DATE, "1900-02-29", PGBIN_RANGE},                             /* 22008 */
    {WIRE_OID_DATE, "2020-13-01", PGBIN_RANGE},                             /* 22008 */
    {WIRE_OID_DATE, "2020-00-10", PGBIN_RANGE},                             /* 22008 */
    {WIRE_OID_DATE, "2020-01-32", PGBIN_RANGE},                             /* 22008 */
    {WIRE_OID_DATE, "99-01-01", PGBIN_RANGE},                               /* 22008 */
    {WIRE_OID_DATE, "x", PGBIN_SYNTAX},                                     /* 22007 */
    {WIRE_OID_DATE, "", PGBIN_SYNTAX},                                      /* 22007 */
    {WIRE_OID_DATE, "2020-01-01 xyz", PGBIN_SYNTAX},                        /* 22007 */
    {WIRE_OID_DATE, "2020/01/01x", PGBIN_SYNTAX},                           /* 22007 */
    {WIRE_OID_TIME, "24:00:01", PGBIN_RANGE},                               /* 22008 */
    {WIRE_OID_TIME, "12:60:00", PGBIN_RANGE},                               /* 22008 */
    {WIRE_OID_TIME, "25:00", PGBIN_RANGE},                                  /* 22008 */
    {WIRE_OID_TIME, "12", PGBIN_SYNTAX},                                    /* 22007 */
    {WIRE_OID_TIME, "x", PGBIN_SYNTAX},                                     /* 22007 */
    {WIRE_OID_TIME, "", PGBIN_SYNTAX},                                      /* 22007 */
    {WIRE_OID_TIME, "12:00:00 xyz", PGBIN_SYNTAX},                          /* 22007 */
    {WIRE_OID_TIME, "2020-01-01", PGBIN_SYNTAX},                            /* 22007 */
    {WIRE_OID_TIME, "12:00:61", PGBIN_RANGE},                               /* 22008 */
    {WIRE_OID_TIMETZ, "12:00:00+16", PGBIN_RANGE},                         /* 22009 */
    {WIRE_OID_TIMETZ, "12:00:00+05:60", PGBIN_RANGE},                      /* 22009 */
    {WIRE_OID_TIMETZ, "x", PGBIN_SYNTAX},                                  /* 22007 */
    {WIRE_OID_TIMETZ, "25:00+01", PGBIN_RANGE},                            /* 22008 */
    {WIRE_OID_TIMESTAMP, "294277-01-01 00:00:00", PGBIN_RANGE},             /* 22008 */
    {WIRE_OID_TIMESTAMP, "4714-11-23 23:59:59 BC", PGBIN_RANGE},            /* 22008 */
    {WIRE_OID_TIMESTAMP, "2020-01-01 24:00:01", PGBIN_RANGE},               /* 22008 */
    {WIRE_OID_TIMESTAMP, "2020-02-30 00:00:00", PGBIN_RANGE},               /* 22008 */
    {WIRE_OID_TIMESTAMP, "12:00:00", PGBIN_SYNTAX},                         /* 22007 */
    {WIRE_OID_TIMESTAMP, "x", PGBIN_SYNTAX},                                /* 22007 */
    {WIRE_OID_TIMESTAMP, "2020-01-01 25:00:00", PGBIN_RANGE},               /* 22008 */
    {WIRE_OID_TIMESTAMP, "2020-01-01 12:00:00 foo", PGBIN_SYNTAX},          /* 22007 */
    {WIRE_OID_TIMESTAMPTZ, "4714-11-24 00:00:00+01 BC", PGBIN_RANGE},       /* 22008 */
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00+16", PGBIN_RANGE},          /* 22009 */
    {WIRE_OID_TIMESTAMPTZ, "2020-01-01 12:00:00+15:60", PGBIN_RANGE},       /* 22009 */
    {WIRE_OID_TIMESTAMPTZ, "294276-12-31 23:59:59.999999-01", PGBIN_RANGE}, /* 22008 */
    {WIRE_OID_TIMESTAMPTZ, "x", PGBIN_SYNTAX},                              /* 22007 */
    {WIRE_OID_TIMESTAMPTZ, "", PGBIN_SYNTAX},                               /* 22007 */
    {WIRE_OID_INTERVAL, "178956971 years", PGBIN_RANGE},                    /* 22008 */
    {WIRE_OID_INTERVAL, "x", PGBIN_SYNTAX},                                 /* 22007 */
    {WIRE_OID_INTERVAL, "", PGBIN_SYNTAX},                                  /* 22007 */
    {WIRE_OID_INTERVAL, "1 fortnight", PGBIN_SYNTAX},                       /* 22007 */
    {WIRE_OID_INTERVAL, "P", PGBIN_SYNTAX},                                 /* 22007 */
    {WIRE_OID_INTERVAL, "P1X", PGBIN_SYNTAX},                               /* 22007 */
    {WIRE_OID_INTERVAL, "1 day xyz", PGBIN_SYNTAX},                         /* 22007 */
    {WIRE_OID_INTERVAL, "1:60:00", PGBIN_RANGE},                            /* 22015 */
    {WIRE_OID_INTERVAL, "P1H", PGBIN_SYNTAX},                               /* 22007 */
    {WIRE_OID_INTERVAL, "2147483648 days", PGBIN_RANGE},                    /* 22015 */
};
/* binary -> text: a binary parameter of the type, printed as text */
static const struct vec_recv vectors_recv[] = {
    {WIRE_OID_NUMERIC, "0003000140000001000109291a7c", PGBIN_OK, "-12345.6"},
    {WIRE_OID_NUMERIC, "0002ffff40000002000a0000", PGBIN_OK, "0.00"},
    {WIRE_OID_NUMERIC, "000200010000000000000005", PGBIN_OK, "5"},
    {WIRE_OID_NUMERIC, "00010002000000000001", PGBIN_OK, "100000000"},
    {WIRE_OID_NUMERIC, "0001fffe000000030001", PGBIN_OK, "0.000"},
    {WIRE_OID_NUMERIC, "0001fffe000000080001", PGBIN_OK, "0.00000001"},
    {WIRE_OID_NUMERIC, "0000000040000003", PGBIN_OK, "0.000"},
    {WIRE_OID_NUMERIC, "000200000000000600010002", PGBIN_OK, "1.000200"},
    {WIRE_OID_NUMERIC, "00010000000000002710", PGBIN_BINARY,
     NULL}, /* 22P03 invalid digit in external "numeric" value */
    {WIRE_OID_NUMERIC, "0001000000010000000a", PGBIN_BINARY,
     NULL}, /* 22P03 invalid sign in external "numeric" value */
    {WIRE_OID_NUMERIC, "00010000000040000001", PGBIN_BINARY,
     NULL}, /* 22P03 invalid scale in external "numeric" value */
    {WIRE_OID_NUMERIC, "000100000000000000", PGBIN_BINARY,
     NULL}, /* 08P01 insufficient data left in message */
    {WIRE_OID_NUMERIC, "0000000000000000ff", PGBIN_BINARY,
     NULL}, /* 22P03 incorrect binary data format in bind parameter 1 */
    {WIRE_OID_NUMERIC, "00000000d0000000", PGBIN_OK, "Infinity"},
    {WIRE_OID_NUMERIC, "00000000f0000005", PGBIN_OK, "-Infinity"},
    {WIRE_OID_NUMERIC, "00000000c0003fff", PGBIN_OK, "NaN"},
    {WIRE_OID_NUMERIC, "0001800000000000000a", PGBIN_OK, "0"},
    {WIRE_OID_DATE, "80000001", PGBIN_RANGE, NULL}, /* 22008 date out of range */
    {WIRE_OID_DATE, "7ffffffe", PGBIN_RANGE, NULL}, /* 22008 date out of range */
    {WIRE_OID_DATE, "ffda97a7", PGBIN_OK, "4714-11-24 BC"},
    {WIRE_OID_DATE, "ffda97a6", PGBIN_RANGE, NULL}, /* 22008 date out of range */
    {WIRE_OID_DATE, "7fda970c", PGBIN_OK, "5874897-12-31"},
    {WIRE_OID_DATE, "7fda970d", PGBIN_RANGE, NULL}, /* 22008 date out of range */
    {WIRE_OID_DATE, "000000", PGBIN_BINARY, NULL},  /* 08P01 insufficient data left in message */
    {WIRE_OID_TIME, "ffffffffffffffff", PGBIN_RANGE, NULL}, /* 22008 time out of range */
    {WIRE_OID_TIME, "000000141dd76000", PGBIN_OK, "24:00:00"},
    {WIRE_OID_TIME, "000000141dd76001", PGBIN_RANGE, NULL}, /* 22008 time out of range */
    {WIRE_OID_TIMETZ, "0000000a0eebb000ffff1f00", PGBIN_RANGE,
     NULL}, /* 22009 time zone displacement out of range */
    {WIRE_OID_TIMETZ, "0000000a0eebb0000000e100", PGBIN_RANGE,
     NULL}, /* 22009 time zone displacement out of range */
    {WIRE_OID_TIMETZ, "0000000a0eebb000ffff1f01", PGBIN_OK, "12:00:00+15:59:59"},
    {WIRE_OID_TIMETZ, "0000000a0eebb00000000e0f", PGBIN_OK, "12:00:00-00:59:59"},
    {WIRE_OID_TIMESTAMP, "fd0f7cc1411fa000", PGBIN_OK, "4714-11-24 00:00:00 BC"},
    {WIRE_OID_TIMESTAMP, "fd0f7cc1411f9fff", PGBIN_RANGE, NULL}, /* 22008 timestamp out of range */
    {WIRE_OID_TIMESTAMP, "7fffff5bb3b29fff", PGBIN_OK, "294276-12-31 23:59:59.999999"},
    {WIRE_OID_TIMESTAMP, "7fffff5bb3b2a000", PGBIN_RANGE, NULL}, /* 22008 timestamp out of range */
    {WIRE_OID_TIMESTAMP, "7ffffffffffffffe", PGBIN_RANGE, NULL}, /* 22008 timestamp out of range */
    {WIRE_OID_TIMESTAMPTZ, "fd0f7cc1411fa000", PGBIN_OK, "4714-11-24 00:00:00+00 BC"},
    {WIRE_OID_TIMESTAMPTZ, "ff1af9e8fb46d000", PGBIN_OK, "0044-03-15 12:00:00+00 BC"},
    {WIRE_OID_INTERVAL, "80000000000000008000000080000000", PGBIN_OK,
     "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808"},
    {WIRE_OID_INTERVAL, "7fffffffffffffff7fffffff7fffffff", PGBIN_OK,
     "178956970 years 7 mons 2147483647 days 2562047788:00:54.775807"},
    {WIRE_OID_INTERVAL, "fffffffffff0bdc000000001ffffffff", PGBIN_OK, "-1 mons +1 day -00:00:01"},
    {WIRE_OID_INTERVAL, "00000000000000010000000000000000", PGBIN_OK, "00:00:00.000001"},
    {WIRE_OID_INTERVAL, "0000000000000000000000000000000c", PGBIN_OK, "1 year"},
    {WIRE_OID_INTERVAL, "fffffffffffffff6000000000000000d", PGBIN_OK,
     "1 year 1 mon -00:00:00.00001"},
    {WIRE_OID_INTERVAL, "0000000000000000", PGBIN_BINARY,
     NULL}, /* 08P01 insufficient data left in message */
    {WIRE_OID_UUID, "00112233445566778899aabbccddeeff", PGBIN_OK,
     "00112233-4455-6677-8899-aabbccddeeff"},
    {WIRE_OID_UUID, "001122", PGBIN_BINARY, NULL}, /* 08P01 insufficient data left in message */
};

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    ck_assert_uint_le(n, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void tohex(const wire_buf *b, char *out, size_t cap)
{
    ck_assert_uint_le(2 * b->len + 1, cap);
    for (size_t i = 0; i < b->len; i++)
        snprintf(out + 2 * i, 3, "%02x", b->data[i]);
    out[2 * b->len] = '\0';
}

/* The text a wire_buf holds, as a C string (a static buffer). */
static const char *buf_text(const wire_buf *b)
{
    static char s[4096];
    ck_assert_uint_lt(b->len, sizeof(s));
    memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    return s;
}

static const uint32_t all_oids[] = {
    WIRE_OID_NUMERIC, WIRE_OID_UUID,      WIRE_OID_DATE,        WIRE_OID_TIME,
    WIRE_OID_TIMETZ, WIRE_OID_TIMESTAMP, WIRE_OID_TIMESTAMPTZ, WIRE_OID_INTERVAL,
};

/* ---- tests ---- */

START_TEST(test_status_str)
{
    ck_assert_str_eq(pgbin_status_str(PGBIN_OK), "ok");
    ck_assert_str_eq(pgbin_status_str(PGBIN_SYNTAX), "syntax");
    ck_assert_str_eq(pgbin_status_str(PGBIN_RANGE), "range");
    ck_assert_str_eq(pgbin_status_str(PGBIN_BINARY), "binary");
    ck_assert_str_eq(pgbin_status_str(PGBIN_NOMEM), "nomem");
    ck_assert_str_eq(pgbin_status_str((pgbin_status)99), "unknown");
}
END_TEST

START_TEST(test_supports)
{
    for (size_t i = 0; i < sizeof(all_oids) / sizeof(all_oids[0]); i++)
        ck_assert(pgbin_supports(all_oids[i]));
    ck_assert(!pgbin_supports(WIRE_OID_TEXT));
    ck_assert(!pgbin_supports(WIRE_OID_INT4));
    ck_assert(!pgbin_supports(WIRE_OID_BYTEA));
    wire_buf b;
    wire_buf_init(&b);
    ck_assert_int_eq(pgbin_encode(WIRE_OID_TEXT, "x", 1, &b), PGBIN_SYNTAX);
    ck_assert_int_eq(pgbin_decode(WIRE_OID_TEXT, (const uint8_t *)"x", 1, &b), PGBIN_BINARY);
    ck_assert_uint_eq(b.len, 0);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_sqlstate_message)
{
    char msg[256];
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_NUMERIC, PGBIN_SYNTAX), "22P02");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_UUID, PGBIN_SYNTAX), "22P02");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_DATE, PGBIN_SYNTAX), "22007");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_INTERVAL, PGBIN_SYNTAX), "22007");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_NUMERIC, PGBIN_RANGE), "22003");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_TIMESTAMPTZ, PGBIN_RANGE), "22008");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_TIME, PGBIN_BINARY), "22P03");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_TIME, PGBIN_NOMEM), "53200");
    ck_assert_str_eq(pgbin_sqlstate(WIRE_OID_TIME, PGBIN_OK), "00000");

    pgbin_message(WIRE_OID_NUMERIC, PGBIN_SYNTAX, "abc", 3, msg, sizeof(msg));
    ck_assert_str_eq(msg, "invalid input syntax for type numeric: \"abc\"");
    pgbin_message(WIRE_OID_DATE, PGBIN_SYNTAX, "x", 1, msg, sizeof(msg));
    ck_assert_str_eq(msg, "invalid input syntax for type date: \"x\"");
    pgbin_message(WIRE_OID_TIMESTAMPTZ, PGBIN_SYNTAX, "x", 1, msg, sizeof(msg));
    ck_assert_str_eq(msg, "invalid input syntax for type timestamp with time zone: \"x\"");
    pgbin_message(WIRE_OID_NUMERIC, PGBIN_RANGE, "1e131072", 8, msg, sizeof(msg));
    ck_assert_str_eq(msg, "value overflows numeric format");
    pgbin_message(WIRE_OID_DATE, PGBIN_RANGE, "5874898-01-01", 13, msg, sizeof(msg));
    ck_assert_str_eq(msg, "date out of range: \"5874898-01-01\"");
    pgbin_message(WIRE_OID_TIMESTAMP, PGBIN_RANGE, NULL, 0, msg, sizeof(msg));
    ck_assert_str_eq(msg, "timestamp out of range");
    pgbin_message(WIRE_OID_NUMERIC, PGBIN_BINARY, NULL, 0, msg, sizeof(msg));
    ck_assert_str_eq(msg, "invalid external \"numeric\" value");
    /* long input is cut at 100 bytes; a tiny buffer stays terminated */
    char longtext[300];
    memset(longtext, 'x', sizeof(longtext));
    pgbin_message(WIRE_OID_UUID, PGBIN_SYNTAX, longtext, sizeof(longtext), msg, sizeof(msg));
    ck_assert_uint_eq(strlen(msg), strlen("invalid input syntax for type uuid: \"\"") + 100);
    pgbin_message(WIRE_OID_UUID, PGBIN_SYNTAX, "x", 1, msg, 4);
    ck_assert_str_eq(msg, "inv");
}
END_TEST

START_TEST(test_encode_vectors)
{
    wire_buf b;
    wire_buf_init(&b);
    char hex[1024];
    for (size_t i = 0; i < sizeof(vectors_ok) / sizeof(vectors_ok[0]); i++) {
        const struct vec_ok *v = &vectors_ok[i];
        wire_buf_reset(&b);
        pgbin_status st = pgbin_encode(v->oid, v->text, strlen(v->text), &b);
        ck_assert_msg(st == PGBIN_OK, "oid %u \"%s\": %s", v->oid, v->text, pgbin_status_str(st));
        tohex(&b, hex, sizeof(hex));
        ck_assert_msg(strcmp(hex, v->hex) == 0, "oid %u \"%s\": %s, want %s", v->oid, v->text, hex,
                      v->hex);
        /* PostgreSQL's own output reads back as the same value */
        if (v->output) {
            wire_buf_reset(&b);
            ck_assert_int_eq(pgbin_encode(v->oid, v->output, strlen(v->output), &b), PGBIN_OK);
            tohex(&b, hex, sizeof(hex));
            ck_assert_msg(strcmp(hex, v->hex) == 0, "oid %u \"%s\": %s, want %s", v->oid, v->output,
                          hex, v->hex);
        }
    }
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_decode_vectors)
{
    wire_buf b;
    wire_buf_init(&b);
    uint8_t bin[512];
    for (size_t i = 0; i < sizeof(vectors_ok) / sizeof(vectors_ok[0]); i++) {
        const struct vec_ok *v = &vectors_ok[i];
        if (!v->output)
            continue;
        size_t n = unhex(v->hex, bin, sizeof(bin));
        wire_buf_reset(&b);
        pgbin_status st = pgbin_decode(v->oid, bin, n, &b);
        ck_assert_msg(st == PGBIN_OK, "oid %u %s: %s", v->oid, v->hex, pgbin_status_str(st));
        ck_assert_msg(strcmp(buf_text(&b), v->output) == 0, "oid %u %s: \"%s\", want \"%s\"",
                      v->oid, v->hex, buf_text(&b), v->output);
    }
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_numeric_normalize)
{
    wire_buf b;
    wire_buf_init(&b);
    for (size_t i = 0; i < sizeof(vectors_ok) / sizeof(vectors_ok[0]); i++) {
        const struct vec_ok *v = &vectors_ok[i];
        if (v->oid != WIRE_OID_NUMERIC || !v->output)
            continue;
        wire_buf_reset(&b);
        ck_assert_int_eq(pgbin_numeric_normalize(v->text, strlen(v->text), &b), PGBIN_OK);
        ck_assert_msg(strcmp(buf_text(&b), v->output) == 0, "\"%s\": \"%s\", want \"%s\"", v->text,
                      buf_text(&b), v->output);
    }
    for (size_t i = 0; i < sizeof(vectors_err) / sizeof(vectors_err[0]); i++) {
        const struct vec_err *v = &vectors_err[i];
        if (v->oid != WIRE_OID_NUMERIC)
            continue;
        wire_buf_reset(&b);
        ck_assert_int_eq(pgbin_numeric_normalize(v->text, strlen(v->text), &b), v->status);
        ck_assert_uint_eq(b.len, 0);
    }
    /* the scale the input had is kept */
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"1.5e3", "1500"}, {"-0.50", "-0.50"},    {"1.50e1", "15.0"}, {"1e-3", "0.001"},
        {"-0", "0"},       {"+12.000", "12.000"}, {"0.0e2", "0"},     {"123e-5", "0.00123"},
        {"\t42\n", "42"},  {"-Inf", "-Infinity"}, {"NAN", "NaN"},     {"00.0100", "0.0100"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wire_buf_reset(&b);
        ck_assert_int_eq(pgbin_numeric_normalize(cases[i].in, strlen(cases[i].in), &b), PGBIN_OK);
        ck_assert_str_eq(buf_text(&b), cases[i].out);
    }
    wire_buf_free(&b);
}
END_TEST

/* Any input PostgreSQL accepts normalizes to what PostgreSQL prints. */
START_TEST(test_normalize)
{
    wire_buf b;
    wire_buf_init(&b);
    for (size_t i = 0; i < sizeof(vectors_ok) / sizeof(vectors_ok[0]); i++) {
        const struct vec_ok *v = &vectors_ok[i];
        if (!v->output)
            continue;
        wire_buf_reset(&b);
        ck_assert_int_eq(pgbin_normalize(v->oid, v->text, strlen(v->text), &b), PGBIN_OK);
        ck_assert_msg(strcmp(buf_text(&b), v->output) == 0, "oid %u \"%s\": \"%s\", want \"%s\"",
                      v->oid, v->text, buf_text(&b), v->output);
    }
    for (size_t i = 0; i < sizeof(vectors_err) / sizeof(vectors_err[0]); i++) {
        const struct vec_err *v = &vectors_err[i];
        wire_buf_reset(&b);
        ck_assert_int_eq(pgbin_normalize(v->oid, v->text, strlen(v->text), &b), v->status);
        ck_assert_uint_eq(b.len, 0);
    }
    ck_assert_int_eq(pgbin_normalize(WIRE_OID_TEXT, "x", 1, &b), PGBIN_SYNTAX);
    /* sums that overflow are out of range, never undefined arithmetic */
    static const char *huge[] = {
        "1.5 months 9223372036854775806 days",
        "0.5 years 9223372036854775800 mons",
        "-9223372036854775807 days -1 days ago",
        "9223372036854775807 hours",
        "P9223372036854775807W",
        "99999999999999999999 days",
    };
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        wire_buf_reset(&b);
        ck_assert_int_eq(pgbin_encode(WIRE_OID_INTERVAL, huge[i], strlen(huge[i]), &b),
                         PGBIN_RANGE);
    }
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_encode_errors)
{
    wire_buf b;
    wire_buf_init(&b);
    for (size_t i = 0; i < sizeof(vectors_err) / sizeof(vectors_err[0]); i++) {
        const struct vec_err *v = &vectors_err[i];
        wire_buf_reset(&b);
        wire_buf_append(&b, "ab", 2); /* what was there before stays */
        pgbin_status st = pgbin_encode(v->oid, v->text, strlen(v->text), &b);
        ck_assert_msg(st == v->status, "oid %u \"%s\": %s, want %s", v->oid, v->text,
                      pgbin_status_str(st), pgbin_status_str(v->status));
        ck_assert_uint_eq(b.len, 2);
    }
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_decode_binary)
{
    wire_buf b;
    wire_buf_init(&b);
    uint8_t bin[512];
    for (size_t i = 0; i < sizeof(vectors_recv) / sizeof(vectors_recv[0]); i++) {
        const struct vec_recv *v = &vectors_recv[i];
        size_t n = unhex(v->hex, bin, sizeof(bin));
        wire_buf_reset(&b);
        wire_buf_append(&b, "ab", 2);
        pgbin_status st = pgbin_decode(v->oid, bin, n, &b);
        ck_assert_msg(st == v->status, "oid %u %s: %s, want %s", v->oid, v->hex,
                      pgbin_status_str(st), pgbin_status_str(v->status));
        if (st == PGBIN_OK)
            ck_assert_msg(strcmp(buf_text(&b) + 2, v->output) == 0,
                          "oid %u %s: \"%s\", want \"%s\"", v->oid, v->hex, buf_text(&b) + 2,
                          v->output);
        else
            ck_assert_uint_eq(b.len, 2);
    }
    /* a wrong length for every type */
    for (size_t i = 0; i < sizeof(all_oids) / sizeof(all_oids[0]); i++) {
        wire_buf_reset(&b);
        ck_assert_int_eq(pgbin_decode(all_oids[i], bin, 3, &b), PGBIN_BINARY);
        ck_assert_int_eq(pgbin_decode(all_oids[i], bin, 0, &b), PGBIN_BINARY);
        ck_assert_uint_eq(b.len, 0);
    }
    wire_buf_free(&b);
}
END_TEST

/* Values at the limits of numeric: 131072 digits before the point, 16383
 * after it. */
START_TEST(test_numeric_extremes)
{
    wire_buf b, t;
    wire_buf_init(&b);
    wire_buf_init(&t);
    ck_assert_int_eq(pgbin_numeric_encode("1e131071", 8, &b), PGBIN_OK);
    ck_assert_uint_eq(b.len, 10);
    static const uint8_t big[] = {0x00, 0x01, 0x7f, 0xff, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8};
    ck_assert_mem_eq(b.data, big, sizeof(big));
    ck_assert_int_eq(pgbin_numeric_decode(b.data, b.len, &t), PGBIN_OK);
    ck_assert_uint_eq(t.len, 131072);
    ck_assert_int_eq(t.data[0], '1');
    for (size_t i = 1; i < t.len; i++)
        ck_assert_int_eq(t.data[i], '0');

    wire_buf_reset(&b);
    wire_buf_reset(&t);
    ck_assert_int_eq(pgbin_numeric_encode("1e-16383", 8, &b), PGBIN_OK);
    static const uint8_t small[] = {0x00, 0x01, 0xf0, 0x00, 0x00, 0x00, 0x3f, 0xff, 0x00, 0x0a};
    ck_assert_mem_eq(b.data, small, sizeof(small));
    ck_assert_int_eq(pgbin_numeric_decode(b.data, b.len, &t), PGBIN_OK);
    ck_assert_uint_eq(t.len, 16385);
    ck_assert_int_eq(t.data[t.len - 1], '1');

    /* a long digit string survives both ways */
    char digits[2001];
    for (int i = 0; i < 2000; i++)
        digits[i] = (char)('1' + i % 9);
    digits[1000] = '.';
    digits[2000] = '\0';
    wire_buf_reset(&b);
    wire_buf_reset(&t);
    ck_assert_int_eq(pgbin_numeric_encode(digits, 2000, &b), PGBIN_OK);
    ck_assert_int_eq(pgbin_numeric_decode(b.data, b.len, &t), PGBIN_OK);
    ck_assert_uint_eq(t.len, 2000);
    ck_assert_mem_eq(t.data, digits, 2000);
    wire_buf_free(&b);
    wire_buf_free(&t);
}
END_TEST

/* Every day from 4714-11-24 BC: what the date prints reads back as it. */
START_TEST(test_date_round_trip)
{
    wire_buf b, t;
    wire_buf_init(&b);
    wire_buf_init(&t);
    /* every week from 4713 BC on (a sample of them under valgrind: DM_VALGRIND) */
    int64_t step = getenv("DM_VALGRIND") ? 701 : 7;
    for (int64_t days = -2451545; days < 300000; days += step) {
        uint8_t bin[4] = {(uint8_t)(days >> 24), (uint8_t)(days >> 16), (uint8_t)(days >> 8),
                          (uint8_t)days};
        wire_buf_reset(&b);
        wire_buf_reset(&t);
        ck_assert_int_eq(pgbin_date_decode(bin, 4, &t), PGBIN_OK);
        ck_assert_int_eq(pgbin_date_encode((const char *)t.data, t.len, &b), PGBIN_OK);
        ck_assert_mem_eq(b.data, bin, 4);
    }
    wire_buf_free(&b);
    wire_buf_free(&t);
}
END_TEST

/* Garbage in either direction fails cleanly (run under ASan). */
START_TEST(test_garbage)
{
    wire_buf b;
    wire_buf_init(&b);
    uint32_t seed = 12345;
    static const char alphabet[] = "0123456789-+:.eE TtZzPYMWDHSabcdefinityNaBCADUTGMago@ ";
    int rounds = getenv("DM_VALGRIND") ? 2000 : 20000; /* valgrind runs ~50 times slower */
    for (int round = 0; round < rounds; round++) {
        uint8_t bytes[40];
        size_t n = 0;
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % sizeof(bytes);
        for (n = 0; n < len; n++) {
            seed = seed * 1103515245u + 12345u;
            if (round % 2)
                bytes[n] = (uint8_t)alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
            else
                bytes[n] = (uint8_t)(seed >> 16);
        }
        for (size_t i = 0; i < sizeof(all_oids) / sizeof(all_oids[0]); i++) {
            wire_buf_reset(&b);
            pgbin_status st = pgbin_encode(all_oids[i], (const char *)bytes, n, &b);
            ck_assert(st != PGBIN_NOMEM);
            wire_buf_reset(&b);
            st = pgbin_decode(all_oids[i], bytes, n, &b);
            ck_assert(st != PGBIN_NOMEM);
        }
        wire_buf_reset(&b);
        pgbin_numeric_normalize((const char *)bytes, n, &b);
    }
    wire_buf_free(&b);
}
END_TEST

static Suite *pgbinary_suite(void)
{
    Suite *s = suite_create("storage/pgbinary");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_status_str);
    tcase_add_test(tc, test_supports);
    tcase_add_test(tc, test_sqlstate_message);
    tcase_add_test(tc, test_encode_vectors);
    tcase_add_test(tc, test_decode_vectors);
    tcase_add_test(tc, test_numeric_normalize);
    tcase_add_test(tc, test_normalize);
    tcase_add_test(tc, test_encode_errors);
    tcase_add_test(tc, test_decode_binary);
    tcase_add_test(tc, test_numeric_extremes);
    tcase_add_test(tc, test_date_round_trip);
    tcase_add_test(tc, test_garbage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pgbinary_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
