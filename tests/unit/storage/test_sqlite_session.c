/*
 * Tests for storage/sqlite_session.c through the extended protocol (the
 * simple Query path is in test_sqlite_query.c): what pgjdbc, psycopg 3 and
 * asyncpg send when they set up or reset a session.
 */
#include "storage_test.h"

static void P(wire_buf *b, const char *name, const char *sql)
{
    wire_put_parse(b, name, sql, NULL, 0);
}

static void B(wire_buf *b, const char *portal, const char *stmt)
{
    wire_put_bind(b, portal, stmt, NULL, 0, NULL, 0, NULL, 0);
}

#define ext_expect(f, batch, want, want_tx)                                                        \
    do {                                                                                           \
        st_result r_;                                                                              \
        st_submit_msgs((f)->engine, (f)->conn, (batch), &r_);                                      \
        ck_assert_msg(strcmp(r_.transcript, (want)) == 0, "\n  got:  %s\n  want: %s",              \
                      r_.transcript, (want));                                                      \
        ck_assert_msg(r_.tx_status == (want_tx), "tx status %c, want %c", r_.tx_status,            \
                      (want_tx));                                                                  \
        wire_buf_free(&r_.out);                                                                    \
        wire_buf_reset(batch);                                                                     \
    } while (0)

START_TEST(test_extended_session)
{
    st_fixture f;
    st_setup(&f, 1);
    wire_buf b;
    wire_buf_init(&b);

    /* pgjdbc's connection setup */
    P(&b, "", "SET extra_float_digits = 3");
    B(&b, "", "");
    wire_put_execute(&b, "", 1);
    P(&b, "", "SET application_name = 'PostgreSQL JDBC Driver'");
    B(&b, "", "");
    wire_put_execute(&b, "", 1);
    wire_put_sync(&b);
    ext_expect(&f, &b, "1 2 C[SET] 1 2 C[SET] S[application_name=PostgreSQL JDBC Driver] Z[I]",
               'I');

    /* SHOW: RowDescription on Describe, rows on Execute */
    P(&b, "sh", "show application_name");
    wire_put_describe(&b, 'S', "sh");
    B(&b, "", "sh");
    wire_put_describe(&b, 'P', "");
    wire_put_execute(&b, "", 0);
    wire_put_sync(&b);
    ext_expect(&f, &b,
               "1 t[] T[application_name:25] 2 T[application_name:25] "
               "D[PostgreSQL JDBC Driver] C[SHOW] Z[I]",
               'I');

    /* psycopg 3's DEALLOCATE of a named statement */
    P(&b, "_pg3_0", "select 1");
    P(&b, "", "DEALLOCATE _pg3_0");
    B(&b, "", "");
    wire_put_execute(&b, "", 0);
    B(&b, "", "_pg3_0");
    wire_put_sync(&b);
    ext_expect(&f, &b, "1 1 2 C[DEALLOCATE] E[26000] Z[I]", 'I');

    P(&b, "", "DEALLOCATE nope");
    B(&b, "", "");
    wire_put_execute(&b, "", 0);
    wire_put_sync(&b);
    ext_expect(&f, &b, "1 2 E[26000] Z[I]", 'I');

    /* DEALLOCATE ALL and DISCARD ALL drop the named statements */
    P(&b, "a", "select 1");
    P(&b, "", "DISCARD ALL");
    B(&b, "", "");
    wire_put_execute(&b, "", 0);
    wire_put_describe(&b, 'S', "a");
    wire_put_sync(&b);
    ext_expect(&f, &b, "1 1 2 C[DISCARD ALL] E[26000] Z[I]", 'I');
    st_expect(&f, "show application_name", "T[application_name:25] D[] C[SHOW]", 'I');

    /* asyncpg's reset, one statement at a time */
    P(&b, "", "SELECT pg_advisory_unlock_all()");
    B(&b, "", "");
    wire_put_execute(&b, "", 0);
    P(&b, "", "CLOSE ALL");
    B(&b, "", "");
    wire_put_execute(&b, "", 0);
    P(&b, "", "UNLISTEN *");
    B(&b, "", "");
    wire_put_execute(&b, "", 0);
    P(&b, "", "RESET ALL");
    B(&b, "", "");
    wire_put_execute(&b, "", 0);
    wire_put_sync(&b);
    ext_expect(&f, &b,
               "1 2 D[<null>] C[SELECT 1] 1 2 C[CLOSE CURSOR ALL] 1 2 C[UNLISTEN] 1 2 C[RESET] "
               "Z[I]",
               'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqlite_session");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_extended_session);
    suite_add_tcase(s, tc);
    return st_run_suite(s);
}
