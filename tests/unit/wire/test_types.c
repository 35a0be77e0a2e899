/*
 * Tests for wire/types.c: PostgreSQL's names for the type OIDs in wire.h.
 */
#include <check.h>
#include <string.h>

#include "dormouse/wire.h"

START_TEST(test_type_name)
{
    static const struct {
        uint32_t oid;
        const char *name; /* as PostgreSQL 15's format_type(oid, NULL) */
    } cases[] = {
        {WIRE_OID_BOOL, "boolean"},
        {WIRE_OID_BYTEA, "bytea"},
        {WIRE_OID_NAME, "name"},
        {WIRE_OID_INT8, "bigint"},
        {WIRE_OID_INT2, "smallint"},
        {WIRE_OID_INT4, "integer"},
        {WIRE_OID_TEXT, "text"},
        {WIRE_OID_OID, "oid"},
        {WIRE_OID_JSON, "json"},
        {WIRE_OID_FLOAT4, "real"},
        {WIRE_OID_FLOAT8, "double precision"},
        {WIRE_OID_BPCHAR, "character"},
        {WIRE_OID_VARCHAR, "character varying"},
        {WIRE_OID_DATE, "date"},
        {WIRE_OID_TIME, "time without time zone"},
        {WIRE_OID_TIMETZ, "time with time zone"},
        {WIRE_OID_TIMESTAMP, "timestamp without time zone"},
        {WIRE_OID_TIMESTAMPTZ, "timestamp with time zone"},
        {WIRE_OID_INTERVAL, "interval"},
        {WIRE_OID_NUMERIC, "numeric"},
        {WIRE_OID_UUID, "uuid"},
        {WIRE_OID_JSONB, "jsonb"},
        {WIRE_OID_UNKNOWN, "unknown"},
        {0, "unknown"},
        {99999, "unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(strcmp(wire_type_name(cases[i].oid), cases[i].name) == 0, "%u: %s",
                      cases[i].oid, wire_type_name(cases[i].oid));
}
END_TEST

static Suite *types_suite(void)
{
    Suite *s = suite_create("wire/types");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_type_name);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(types_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
