/*
 * Tests for storage/sqlite_extended.c: batches of extended-protocol messages
 * (built with wire's frontend builders) run as EXTENDED jobs on a real
 * engine, replies compared as exact transcripts (see storage_test.h) with
 * what PostgreSQL sends for the same messages.
 */
#include "storage_test.h"

/* ---- batch builders ---- */

static void P(wire_buf *b, const char *name, const char *sql)
{
    wire_put_parse(b, name, sql, NULL, 0);
}

static void Pt(wire_buf *b, const char *name, const char *sql, const uint32_t *types, int n)
{
    wire_put_parse(b, name, sql, types, n);
}

/* Bind with text parameters (NULL entries are SQL NULLs), text results. */
static void B(wire_buf *b, const char *portal, const char *stmt, int n, const char *const *texts)
{
    wire_value v[16];
    ck_assert_int_le(n, 16);
    for (int i = 0; i < n; i++) {
        v[i].data = (const uint8_t *)texts[i];
        v[i].len = texts[i] ? (int32_t)strlen(texts[i]) : -1;
    }
    wire_put_bind(b, portal, stmt, NULL, 0, v, n, NULL, 0);
}

static void D(wire_buf *b, char kind, const char *name)
{
    wire_put_describe(b, kind, name);
}

static void E(wire_buf *b, const char *portal, int32_t max)
{
    wire_put_execute(b, portal, max);
}

static void S(wire_buf *b)
{
    wire_put_sync(b);
}

/* Runs the batch, checks the transcript and the transaction status, and
 * empties the batch for the next one. */
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

static void setup_table(st_fixture *f)
{
    st_expect(f,
              "create table t(id integer primary key, name text, score float8); "
              "insert into t values (1,'a',1.5),(2,'b',2.5),(3,'c',null)",
              "C[CREATE TABLE] C[INSERT 0 3]", 'I');
}

/* ---- tests ---- */

START_TEST(test_unnamed_cycle)
{
    st_fixture f;
    st_setup(&f, 2);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    /* what libpq's PQexecParams sends */
    P(&b, "", "select id, name from t where id >= $1 order by id");
    const char *p1[] = {"2"};
    B(&b, "", "", 1, p1);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 T[id:23,name:25] D[2,b] D[3,c] C[SELECT 2] Z[I]", 'I');

    /* the unnamed statement survives Sync and can be bound again */
    const char *p2[] = {"3"};
    B(&b, "", "", 1, p2);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "2 D[3,c] C[SELECT 1] Z[I]", 'I');

    /* a re-Parse of the unnamed statement replaces it */
    P(&b, "", "select 42 as answer");
    B(&b, "", "", 0, NULL);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 T[answer:23] D[42] C[SELECT 1] Z[I]", 'I');

    /* a simple Query destroys the unnamed statement */
    st_expect(&f, "select 1", "T[?column?:23] D[1] C[SELECT 1]", 'I');
    B(&b, "", "", 0, NULL);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "E[26000] Z[I]", 'I');

    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_named_statements)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    P(&b, "byid", "select name, score from t where id = $1");
    D(&b, 'S', "byid");
    S(&b);
    ext_expect(&f, &b, "1 t[23] T[name:25,score:701] Z[I]", 'I');

    /* the same name again without Close: 42P05 */
    P(&b, "byid", "select 1");
    S(&b);
    ext_expect(&f, &b, "E[42P05] Z[I]", 'I');

    /* execute it twice in one batch, and a named portal */
    const char *one[] = {"1"}, *two[] = {"2"};
    B(&b, "", "byid", 1, one);
    E(&b, "", 0);
    B(&b, "p2", "byid", 1, two);
    D(&b, 'P', "p2");
    E(&b, "p2", 0);
    S(&b);
    ext_expect(&f, &b, "2 D[a,1.5] C[SELECT 1] 2 T[name:25,score:701] D[b,2.5] C[SELECT 1] Z[I]",
               'I');

    /* portals are gone after Sync outside a block */
    E(&b, "p2", 0);
    S(&b);
    ext_expect(&f, &b, "E[34000] Z[I]", 'I');

    /* Close, then it does not exist; closing again is no error */
    wire_put_close(&b, 'S', "byid");
    wire_put_close(&b, 'S', "byid");
    wire_put_close(&b, 'P', "nope");
    B(&b, "", "byid", 1, one);
    S(&b);
    ext_expect(&f, &b, "3 3 3 E[26000] Z[I]", 'I');
    char buf[256];
    st_result r;
    B(&b, "", "nope", 0, NULL);
    S(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "prepared statement \"nope\" does not exist");
    wire_buf_free(&r.out);
    wire_buf_reset(&b);

    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_describe)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    /* types given by the client, inferred from casts and LIMIT, else text */
    static const uint32_t types[] = {23};
    Pt(&b, "s", "select id, count(*) from t where id > $1 and name = $2 group by id limit $3",
       types, 1);
    D(&b, 'S', "s");
    S(&b);
    ext_expect(&f, &b, "1 t[23,25,20] T[id:23,count:20] Z[I]", 'I');

    /* no result columns: NoData; an empty query too */
    P(&b, "ins", "insert into t values ($1, $2, $3)");
    D(&b, 'S', "ins");
    P(&b, "empty", "");
    D(&b, 'S', "empty");
    S(&b);
    ext_expect(&f, &b, "1 t[23,25,701] n 1 t[] n Z[I]", 'I');

    /* Describe of a portal of a SELECT types expressions from the first row */
    P(&b, "", "select 1 + 1 as two, 'x' || 'y', 1.5");
    B(&b, "", "", 0, NULL);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 T[two:23,?column?:25,?column?:1700] D[2,xy,1.5] C[SELECT 1] Z[I]", 'I');

    /* after a Describe of the statement its types hold for the portal too */
    P(&b, "", "select 1 + 1 as two, 'x' || 'y', 1.5");
    D(&b, 'S', "");
    B(&b, "", "", 0, NULL);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b,
               "1 t[] T[two:23,?column?:25,?column?:1700] 2 T[two:23,?column?:25,?column?:1700] "
               "D[2,xy,1.5] C[SELECT 1] Z[I]",
               'I');

    /* unknown portal */
    D(&b, 'P', "nope");
    S(&b);
    ext_expect(&f, &b, "E[34000] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_row_limit)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    P(&b, "", "select id from t order by id");
    B(&b, "c", "", 0, NULL);
    E(&b, "c", 2);
    S(&b);
    ext_expect(&f, &b, "1 2 D[1] D[2] s Z[T]", 'T');
    /* the portal lives on inside the block; exactly the limit: suspended */
    E(&b, "c", 1);
    S(&b);
    ext_expect(&f, &b, "D[3] s Z[T]", 'T');
    E(&b, "c", 1);
    E(&b, "c", 0);
    S(&b);
    ext_expect(&f, &b, "C[SELECT 0] C[SELECT 0] Z[T]", 'T');
    /* COMMIT ends the block and its portals */
    st_expect(&f, "commit", "C[COMMIT]", 'I');
    E(&b, "c", 0);
    S(&b);
    ext_expect(&f, &b, "E[34000] Z[I]", 'I');

    /* within one batch, outside a block */
    P(&b, "", "select id from t order by id");
    B(&b, "", "", 0, NULL);
    E(&b, "", 1);
    E(&b, "", 1);
    E(&b, "", 5);
    S(&b);
    ext_expect(&f, &b, "1 2 D[1] s D[2] s D[3] C[SELECT 1] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_error_skips_to_sync)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    /* the error rolls back the implicit block: the first insert is undone */
    P(&b, "ins", "insert into t values ($1, $2, null)");
    const char *a[] = {"10", "x"}, *dup[] = {"1", "dup"};
    B(&b, "", "ins", 2, a);
    E(&b, "", 0);
    B(&b, "", "ins", 2, dup);
    E(&b, "", 0);
    B(&b, "", "ins", 2, a);
    E(&b, "", 0);
    S(&b);
    P(&b, "", "select count(*) from t");
    B(&b, "", "", 0, NULL);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 C[INSERT 0 1] 2 E[23505] Z[I] 1 2 D[3] C[SELECT 1] Z[I]", 'I');

    /* a batch ending at Flush after an error: the next batch skips to Sync */
    P(&b, "", "selec 1");
    B(&b, "", "", 0, NULL);
    wire_put_flush(&b);
    st_result r;
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "E[42601]");
    ck_assert(r.discarding);
    wire_buf_free(&r.out);
    wire_buf_reset(&b);
    P(&b, "", "select 1");
    E(&b, "", 0);
    S(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "Z[I]");
    ck_assert(!r.discarding);
    wire_buf_free(&r.out);
    wire_buf_reset(&b);

    /* the error message names the problem */
    P(&b, "two", "select 1; select 2");
    S(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    char buf[256];
    ck_assert_str_eq(r.transcript, "E[42601] Z[I]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "cannot insert multiple commands into a prepared statement");
    wire_buf_free(&r.out);
    wire_buf_reset(&b);
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_parameters)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    char buf[256];
    st_result r;

    /* wrong number of parameters: 08P01 */
    P(&b, "q", "select $1, $2");
    const char *one[] = {"1"};
    B(&b, "", "q", 1, one);
    S(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "1 E[08P01] Z[I]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "bind message supplies 1 parameters, but prepared statement \"q\" requires 2");
    wire_buf_free(&r.out);
    wire_buf_reset(&b);

    /* typed parameters are converted; bad input is 22P02 */
    static const uint32_t ti[] = {WIRE_OID_INT4, WIRE_OID_BOOL, WIRE_OID_FLOAT8, WIRE_OID_BYTEA,
                                  WIRE_OID_INT8};
    Pt(&b, "typed", "select $1 + 1, $2, $3 * 2, $4, typeof($5)", ti, 5);
    const char *good[] = {" 41 ", "yes", "1.25", "\\x0aff", "-9223372036854775808"};
    B(&b, "", "typed", 5, good);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 D[42,1,2.5,\\x0aff,integer] C[SELECT 1] Z[I]", 'I');

    const char *bad[] = {"abc", "t", "1", "\\x", "1"};
    B(&b, "", "typed", 5, bad);
    S(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "E[22P02] Z[I]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "invalid input syntax for type integer: \"abc\"");
    wire_buf_free(&r.out);
    wire_buf_reset(&b);
    const char *big[] = {"2147483648", "t", "1", "\\x", "1"};
    B(&b, "", "typed", 5, big);
    S(&b);
    ext_expect(&f, &b, "E[22003] Z[I]", 'I');
    const char *badbool[] = {"1", "maybe", "1", "\\x", "1"};
    B(&b, "", "typed", 5, badbool);
    S(&b);
    ext_expect(&f, &b, "E[22P02] Z[I]", 'I');

    /* NULLs, and text parameters compared with integer columns */
    P(&b, "", "select count(*) from t where id = $1 or name = $2");
    const char *nul[] = {"2", NULL};
    B(&b, "", "", 2, nul);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 D[1] C[SELECT 1] Z[I]", 'I');

    /* the same $n twice, and parameters out of order */
    P(&b, "", "select $2 || $1 || $2");
    const char *ab[] = {"a", "b"};
    B(&b, "", "", 2, ab);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 D[bab] C[SELECT 1] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

static void put_bind_binary(wire_buf *b, const char *stmt, const wire_value *v, int n,
                            const int16_t *res, int nres)
{
    static const int16_t bin[] = {1};
    wire_put_bind(b, "", stmt, bin, 1, v, n, res, nres);
}

START_TEST(test_binary_params_and_results)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table bin(i int, s smallint, l bigint, d float8, r real, b bool, y bytea, "
              "t text, ts timestamp, n numeric)",
              "C[CREATE TABLE]", 'I');
    wire_buf b;
    wire_buf_init(&b);
    static const uint32_t types[] = {WIRE_OID_INT4,   WIRE_OID_INT2,   WIRE_OID_INT8,
                                     WIRE_OID_FLOAT8, WIRE_OID_FLOAT4, WIRE_OID_BOOL,
                                     WIRE_OID_BYTEA,  WIRE_OID_TEXT};
    Pt(&b, "ins", "insert into bin(i, s, l, d, r, b, y, t) values ($1,$2,$3,$4,$5,$6,$7,$8)", types,
       8);
    static const uint8_t i4[] = {0, 0, 0, 42}, i2[] = {0xff, 0xfe}, i8[] = {0, 0, 0, 1, 0, 0, 0, 0},
                         f8[] = {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, f4[] = {0x40, 0x20, 0, 0},
                         bo[] = {1}, by[] = {0, 1, 2};
    wire_value v[8] = {{i4, 4}, {i2, 2}, {i8, 8}, {f8, 8},
                       {f4, 4}, {bo, 1}, {by, 3}, {(const uint8_t *)"hé", 3}};
    put_bind_binary(&b, "ins", v, 8, NULL, 0);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 C[INSERT 0 1] Z[I]", 'I');
    st_expect(&f, "select i, s, l, d, r, b, y, t from bin",
              "T[i:23,s:21,l:20,d:701,r:700,b:16,y:17,t:25] "
              "D[42,-2,4294967296,1.5,2.5,t,\\x000102,hé] C[SELECT 1]",
              'I');

    /* binary results: one format code for all columns */
    P(&b, "", "select i, s, l, d, r, b, y, t from bin");
    static const int16_t all_bin[] = {1};
    wire_put_bind(&b, "", "", NULL, 0, NULL, 0, all_bin, 1);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b,
               "1 2 T[i:23/b,s:21/b,l:20/b,d:701/b,r:700/b,b:16/b,y:17/b,t:25/b] "
               "D[#0000002a,#fffe,#0000000100000000,#3ff8000000000000,#40200000,#01,#000102,hé] "
               "C[SELECT 1] Z[I]",
               'I');

    /* per-column codes */
    static const int16_t mixed[] = {0, 1};
    P(&b, "", "select i, i from bin");
    wire_put_bind(&b, "", "", NULL, 0, NULL, 0, mixed, 2);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 T[i:23,i:23/b] D[42,#0000002a] C[SELECT 1] Z[I]", 'I');

    /* wrong count of result formats: 08P01 */
    static const int16_t three[] = {0, 1, 0};
    wire_put_bind(&b, "", "", NULL, 0, NULL, 0, three, 3);
    S(&b);
    ext_expect(&f, &b, "E[08P01] Z[I]", 'I');

    /* timestamp in binary: microseconds since 2000-01-01, as timestamp_send */
    st_expect(&f, "update bin set ts = '2024-01-02 03:04:05', n = 1.5", "C[UPDATE 1]", 'I');
    P(&b, "", "select ts from bin");
    wire_put_bind(&b, "", "", NULL, 0, NULL, 0, all_bin, 1);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 T[ts:1114/b] D[#0002b0ec8515f340] C[SELECT 1] Z[I]", 'I');

    /* a binary int4 parameter of the wrong size: 22P03 */
    Pt(&b, "", "select $1", types, 1);
    wire_value shortv = {i2, 2};
    put_bind_binary(&b, "", &shortv, 1, NULL, 0);
    S(&b);
    ext_expect(&f, &b, "1 E[22P03] Z[I]", 'I');

    /* a binary timestamp parameter: bound as its text */
    static const uint32_t ts[] = {WIRE_OID_TIMESTAMP};
    Pt(&b, "", "select $1", ts, 1);
    wire_value tsv = {i8, 8};
    put_bind_binary(&b, "", &tsv, 1, NULL, 0);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 D[2000-01-01 01:11:34.967296] C[SELECT 1] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_transactions)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    /* BEGIN through the extended protocol, then a block across batches */
    P(&b, "begin", "begin");
    B(&b, "", "begin", 0, NULL);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 C[BEGIN] Z[T]", 'T');
    P(&b, "ins", "insert into t values ($1, 'x', null)");
    const char *v7[] = {"7"};
    B(&b, "", "ins", 1, v7);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 C[INSERT 0 1] Z[T]", 'T');
    /* an error fails the block; Sync keeps it failed */
    B(&b, "", "ins", 1, v7);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "2 E[23505] Z[E]", 'E');
    /* in a failed block only COMMIT/ROLLBACK may run */
    B(&b, "", "ins", 1, v7);
    S(&b);
    ext_expect(&f, &b, "E[25P02] Z[E]", 'E');
    P(&b, "rb", "rollback");
    B(&b, "", "rb", 0, NULL);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 C[ROLLBACK] Z[I]", 'I');
    st_expect(&f, "select count(*) from t", "T[count:20] D[3] C[SELECT 1]", 'I');

    /* the implicit block: several Executes before one Sync commit together */
    const char *v8[] = {"8"}, *v9[] = {"9"};
    B(&b, "", "ins", 1, v8);
    E(&b, "", 0);
    B(&b, "", "ins", 1, v9);
    E(&b, "", 0);
    wire_put_flush(&b);
    ext_expect(&f, &b, "2 C[INSERT 0 1] 2 C[INSERT 0 1]", 'I');
    S(&b);
    ext_expect(&f, &b, "Z[I]", 'I');
    st_expect(&f, "select count(*) from t", "T[count:20] D[5] C[SELECT 1]", 'I');

    /* COMMIT without a block warns, as in PostgreSQL */
    P(&b, "c", "commit");
    B(&b, "", "c", 0, NULL);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 N[25P01] C[COMMIT] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_empty_and_utility)
{
    st_fixture f;
    st_setup(&f, 1);
    wire_buf b;
    wire_buf_init(&b);
    P(&b, "", "");
    B(&b, "", "", 0, NULL);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 n I Z[I]", 'I');
    P(&b, "", "create table u(a int)");
    B(&b, "", "", 0, NULL);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 n C[CREATE TABLE] Z[I]", 'I');
    P(&b, "", "insert into u values (1), (2) returning a");
    B(&b, "", "", 0, NULL);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 T[a:23] D[1] D[2] C[INSERT 0 2] Z[I]", 'I');
    P(&b, "", "update u set a = a + $1");
    const char *ten[] = {"10"};
    B(&b, "", "", 1, ten);
    E(&b, "", 0);
    P(&b, "", "delete from u where a > $1");
    const char *eleven[] = {"11"};
    B(&b, "", "", 1, eleven);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 C[UPDATE 2] 1 2 C[DELETE 1] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

/* A writer's implicit block left open by a batch ending at Flush keeps the
 * write lock: another connection's write waits until Sync commits. */
START_TEST(test_write_lock_across_flush)
{
    st_fixture f;
    st_setup(&f, 2);
    setup_table(&f);
    storage_conn *other = storage_conn_new(f.db);
    st_open(&f, other);
    wire_buf b;
    wire_buf_init(&b);
    P(&b, "", "insert into t values (20, 'w', null)");
    B(&b, "", "", 0, NULL);
    E(&b, "", 0);
    wire_put_flush(&b);
    ext_expect(&f, &b, "1 2 C[INSERT 0 1]", 'I');
    /* the other writer gives up after busy_timeout_ms (200 ms) */
    st_result r;
    st_submit_wait(f.engine, other, STORAGE_JOB_QUERY, "insert into t values (21, 'v', null)", &r);
    ck_assert_str_eq(r.transcript, "E[40001]");
    wire_buf_free(&r.out);
    S(&b);
    ext_expect(&f, &b, "Z[I]", 'I');
    st_submit_wait(f.engine, other, STORAGE_JOB_QUERY, "insert into t values (21, 'v', null)", &r);
    ck_assert_str_eq(r.transcript, "C[INSERT 0 1]");
    wire_buf_free(&r.out);
    st_close(&f, other);
    storage_conn_free(other);
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

/* Statements and portals left open are freed by CLOSE (ASan checks). */
START_TEST(test_close_frees)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    P(&b, "a", "select * from t");
    P(&b, "b", "select 1");
    B(&b, "pa", "a", 0, NULL);
    B(&b, "pa2", "a", 0, NULL); /* a second portal of one statement */
    E(&b, "pa", 1);
    E(&b, "pa2", 2);
    wire_put_close(&b, 'S', "a"); /* the portals keep it alive */
    E(&b, "pa", 1);
    S(&b);
    ext_expect(&f, &b, "1 1 2 2 D[1,a,1.5] s D[1,a,1.5] D[2,b,2.5] s 3 D[2,b,2.5] s Z[T]", 'T');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_malformed)
{
    st_fixture f;
    st_setup(&f, 1);
    wire_buf b;
    wire_buf_init(&b);
    /* a Bind whose body is cut short */
    size_t m = wire_msg_begin(&b, 'B');
    wire_buf_put_u8(&b, 0);
    wire_msg_end(&b, m);
    S(&b);
    ext_expect(&f, &b, "E[08P01] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

/* A statement described without a row: expression columns typed from the
 * tree, and the DataRows of its portals always in the described types (what
 * asyncpg does: Describe the statement, then Bind with binary results). */
/* CREATE TABLE through the extended protocol records its bigserial key's
 * type as the simple protocol does. */
START_TEST(test_create_records_types)
{
    st_fixture f;
    st_setup(&f, 1);
    wire_buf b;
    wire_buf_init(&b);
    P(&b, "", "create table ex (id bigserial primary key, v text)");
    B(&b, "", "", 0, NULL);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 2 C[CREATE TABLE] Z[I]", 'I');
    st_expect(&f, "insert into ex (v) values ('a') returning id", "T[id:20] D[1] C[INSERT 0 1]",
              'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_described_types_hold)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    static const int16_t all_bin[] = {1};
    const char *sql = "select abs(-1) as a, 1 as b, 2 > 1 as c, 'x' as d, cast(1 as bigint) as e, "
                      "null is null as g, not (1 = 2) as h, count(*) as n, 1::int2 + 1 as i";
    P(&b, "s", sql);
    D(&b, 'S', "s");
    wire_put_bind(&b, "", "s", NULL, 0, NULL, 0, all_bin, 1);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b,
               "1 t[] T[a:23,b:23,c:16,d:25,e:20,g:16,h:16,n:20,i:23] 2 "
               "D[#00000001,#00000001,#01,x,#0000000000000001,#01,#01,#0000000000000001,#00000002] "
               "C[SELECT 1] Z[I]",
               'I');
    /* text results of the same statement: booleans print as t/f */
    B(&b, "", "s", 0, NULL);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "2 D[1,1,t,x,1,t,t,1,2] C[SELECT 1] Z[I]", 'I');

    /* max() of an int4 column is int4, described and sent as such */
    P(&b, "", "select max(id) from t");
    D(&b, 'S', "");
    wire_put_bind(&b, "", "", NULL, 0, NULL, 0, all_bin, 1);
    D(&b, 'P', "");
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 t[] T[max:23] 2 T[max:23/b] D[#00000003] C[SELECT 1] Z[I]", 'I');

    /* a cast parameter: typed, converted, the result typed int4 */
    P(&b, "", "select $1::int4 + 1");
    D(&b, 'S', "");
    const char *v41[] = {"41"};
    B(&b, "", "", 1, v41);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "1 t[23] T[?column?:23] 2 D[42] C[SELECT 1] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

/* Untyped parameters take the types of the table columns they meet. */
START_TEST(test_parameter_inference)
{
    st_fixture f;
    st_setup(&f, 1);
    setup_table(&f);
    wire_buf b;
    wire_buf_init(&b);
    P(&b, "a", "select name from t where id = $1 and $2 < score");
    D(&b, 'S', "a");
    P(&b, "b", "insert into t (name, id) values ($1, $2)");
    D(&b, 'S', "b");
    P(&b, "c", "update t set score = $1 where t.id = $2");
    D(&b, 'S', "c");
    P(&b, "d", "select x.id from t x where x.id in ($1, $2) and name like $3 limit $4 offset $5");
    D(&b, 'S', "d");
    P(&b, "e", "delete from t where id between $1 and $2 or $3 = 'q'");
    D(&b, 'S', "e");
    S(&b);
    ext_expect(&f, &b,
               "1 t[23,701] T[name:25] 1 t[25,23] n 1 t[701,23] n "
               "1 t[23,23,25,20,20] T[id:23] 1 t[23,23,25] n Z[I]",
               'I');

    /* an inferred int4 parameter accepts the binary int4 a driver sends */
    static const uint8_t two[] = {0, 0, 0, 2};
    static const int16_t bin[] = {1};
    wire_value v[2] = {{two, 4}, {(const uint8_t *)"0", 1}};
    wire_put_bind(&b, "", "a", bin, 1, v, 1, NULL, 0);
    S(&b);
    ext_expect(&f, &b, "E[08P01] Z[I]", 'I'); /* two parameters wanted */
    static const int16_t fmts[] = {1, 0};
    wire_put_bind(&b, "", "a", fmts, 2, v, 2, NULL, 0);
    E(&b, "", 0);
    S(&b);
    ext_expect(&f, &b, "2 D[b] C[SELECT 1] Z[I]", 'I');
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqlite_extended");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_unnamed_cycle);
    tcase_add_test(tc, test_named_statements);
    tcase_add_test(tc, test_describe);
    tcase_add_test(tc, test_row_limit);
    tcase_add_test(tc, test_error_skips_to_sync);
    tcase_add_test(tc, test_parameters);
    tcase_add_test(tc, test_binary_params_and_results);
    tcase_add_test(tc, test_transactions);
    tcase_add_test(tc, test_empty_and_utility);
    tcase_add_test(tc, test_write_lock_across_flush);
    tcase_add_test(tc, test_close_frees);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_create_records_types);
    tcase_add_test(tc, test_described_types_hold);
    tcase_add_test(tc, test_parameter_inference);
    suite_add_tcase(s, tc);
    return st_run_suite(s);
}
