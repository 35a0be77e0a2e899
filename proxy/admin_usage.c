/*
 * The console's views of the usage ledger, for the current month (UTC):
 *
 *   SHOW USAGE [db]        one row per database: what it used
 *   SHOW BILL db           its bill under each plan, line by line
 *   SHOW TOP QUERIES [db]  the 20 query fingerprints that took the most time
 *
 * The ledger answers on its own thread (no event loop runs SQLite work):
 * the console session is held meanwhile, as for a waiting PAUSE, and the
 * reply is written when the answer reaches loop 0.
 */
#include "billing.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct usage_col {
    const char *name;
    uint32_t oid;
} usage_col;

static void usage_header(wire_buf *b, const usage_col *cols, int n)
{
    wire_column wc[16];
    for (int i = 0; i < n; i++) {
        memset(&wc[i], 0, sizeof(wc[i]));
        wc[i].name = cols[i].name;
        wc[i].type_oid = cols[i].oid;
        wc[i].type_len = cols[i].oid == WIRE_OID_INT8 ? 8 : cols[i].oid == WIRE_OID_FLOAT8 ? 8 : -1;
        wc[i].type_mod = -1;
    }
    wire_put_row_description(b, wc, n);
}

static void usage_text(wire_buf *b, const char *v)
{
    wire_data_row_field(b, v, (int32_t)strlen(v));
}

static void usage_int(wire_buf *b, long long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    wire_data_row_field(b, buf, n);
}

static void usage_num(wire_buf *b, double v)
{
    char buf[48];
    int n = snprintf(buf, sizeof(buf), "%.6f", v);
    wire_data_row_field(b, buf, n);
}

static void usage_show_usage(const storage_ledger_request *q, wire_buf *b)
{
    static const usage_col cols[] = {
        {"database", WIRE_OID_TEXT},      {"queries", WIRE_OID_INT8},
        {"errors", WIRE_OID_INT8},        {"rows_read", WIRE_OID_INT8},
        {"rows_written", WIRE_OID_INT8},  {"rows_returned", WIRE_OID_INT8},
        {"bytes_in", WIRE_OID_INT8},      {"bytes_out", WIRE_OID_INT8},
        {"wall_ms", WIRE_OID_INT8},       {"cpu_ms", WIRE_OID_INT8},
        {"active_seconds", WIRE_OID_FLOAT8}, {"cold_starts", WIRE_OID_INT8},
        {"storage_bytes", WIRE_OID_INT8},
    };
    int n = (int)(sizeof(cols) / sizeof(cols[0]));
    usage_header(b, cols, n);
    for (int i = 0; i < q->nrows; i++) {
        const storage_usage_row *r = &q->rows[i];
        size_t start = wire_data_row_begin(b, (uint16_t)n);
        usage_text(b, r->database);
        usage_int(b, (long long)r->queries);
        usage_int(b, (long long)r->errors);
        usage_int(b, (long long)r->rows_read);
        usage_int(b, (long long)r->rows_written);
        usage_int(b, (long long)r->rows_returned);
        usage_int(b, (long long)r->bytes_in);
        usage_int(b, (long long)r->bytes_out);
        usage_int(b, (long long)(r->wall_us / 1000));
        usage_int(b, (long long)(r->cpu_us / 1000));
        usage_num(b, (double)r->active_us / 1e6);
        usage_int(b, (long long)r->cold_starts);
        if (r->storage_bytes >= 0)
            usage_int(b, r->storage_bytes);
        else
            wire_data_row_field(b, NULL, -1);
        wire_msg_end(b, start);
    }
}

static void usage_show_bill(proxy_server *srv, const storage_ledger_request *q, wire_buf *b)
{
    static const usage_col cols[] = {
        {"plan", WIRE_OID_TEXT},       {"item", WIRE_OID_TEXT},     {"quantity", WIRE_OID_FLOAT8},
        {"unit", WIRE_OID_TEXT},       {"included", WIRE_OID_FLOAT8}, {"billable", WIRE_OID_FLOAT8},
        {"unit_price", WIRE_OID_FLOAT8}, {"price_unit", WIRE_OID_TEXT}, {"amount_usd", WIRE_OID_FLOAT8},
    };
    int n = (int)(sizeof(cols) / sizeof(cols[0]));
    usage_header(b, cols, n);
    const storage_bill_input *in = &q->bill;
    billing_usage bu = meter_billing_usage(in, q->from_us, q->to_us);
    const billing_plan *plans[PROXY_MAX_PLANS + 8];
    int nplans = meter_plans(srv, plans, PROXY_MAX_PLANS + 8);
    for (int p = 0; p < nplans; p++) {
        billing_bill bill;
        billing_compute(plans[p], &bu, &bill);
        for (int i = 0; i <= bill.nlines; i++) {
            const billing_line *l = i < bill.nlines ? &bill.lines[i] : NULL;
            size_t start = wire_data_row_begin(b, (uint16_t)n);
            usage_text(b, bill.plan);
            usage_text(b, l ? l->item : "total");
            if (l) {
                usage_num(b, l->quantity);
                usage_text(b, l->unit);
                usage_num(b, l->included);
                usage_num(b, l->billable);
                usage_num(b, l->unit_price);
                usage_text(b, l->price_unit);
            } else {
                for (int k = 0; k < 6; k++)
                    wire_data_row_field(b, NULL, -1);
            }
            usage_num(b, l ? l->amount : bill.total);
            wire_msg_end(b, start);
        }
    }
}

static void usage_show_top(const storage_ledger_request *q, wire_buf *b)
{
    static const usage_col cols[] = {
        {"database", WIRE_OID_TEXT},     {"fingerprint", WIRE_OID_TEXT}, {"kind", WIRE_OID_TEXT},
        {"calls", WIRE_OID_INT8},        {"errors", WIRE_OID_INT8},      {"rows_read", WIRE_OID_INT8},
        {"rows_written", WIRE_OID_INT8}, {"rows_returned", WIRE_OID_INT8}, {"wall_ms", WIRE_OID_FLOAT8},
        {"cpu_ms", WIRE_OID_FLOAT8},     {"query", WIRE_OID_TEXT},
    };
    int n = (int)(sizeof(cols) / sizeof(cols[0]));
    usage_header(b, cols, n);
    for (int i = 0; i < q->ntop; i++) {
        const storage_query_row *r = &q->top[i];
        char fp[20];
        snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)r->fingerprint);
        size_t start = wire_data_row_begin(b, (uint16_t)n);
        usage_text(b, r->database);
        usage_text(b, fp);
        usage_text(b, r->kind);
        usage_int(b, (long long)r->calls);
        usage_int(b, (long long)r->errors);
        usage_int(b, (long long)r->rows_read);
        usage_int(b, (long long)r->rows_written);
        usage_int(b, (long long)r->rows_returned);
        usage_num(b, (double)r->wall_us / 1000.0);
        usage_num(b, (double)r->cpu_us / 1000.0);
        usage_text(b, r->query);
        wire_msg_end(b, start);
    }
}

/* Loop 0: the ledger answered; the console session (if still there) gets it. */
static void usage_finish(meter_read *r)
{
    proxy_session *s = r->session;
    if (s) {
        s->admin_read = NULL;
        wire_buf *b = &s->out;
        if (r->q.error[0]) {
            wire_error e = {.severity = "ERROR",
                            .sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR,
                            .message = r->q.error};
            wire_put_error(b, &e);
        } else {
            if (r->q.read == STORAGE_LEDGER_SUMMARY)
                usage_show_usage(&r->q, b);
            else if (r->q.read == STORAGE_LEDGER_BILL)
                usage_show_bill(r->srv, &r->q, b);
            else
                usage_show_top(&r->q, b);
            wire_put_command_complete(b, "SHOW");
        }
        wire_put_ready(b, 'I');
        session_wake(s);
    }
    storage_ledger_request_clear(&r->q);
    free(r);
}

bool admin_usage_show(proxy_session *s, const admin_cmd *cmd)
{
    proxy_server *srv = s->server;
    const char *why = NULL;
    if (!srv->ledger)
        why = "metering is off (metering = off): there is no usage to show";
    else if (cmd->show == ADMIN_SHOW_BILL && !cmd->arg[0])
        why = "SHOW BILL needs a database: SHOW BILL <db>";
    meter_read *r = why ? NULL : calloc(1, sizeof(*r));
    if (!why && !r)
        why = "out of memory";
    if (why) {
        wire_error e = {.severity = "ERROR",
                        .sqlstate = !srv->ledger ? WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED
                                                 : WIRE_SQLSTATE_SYNTAX_ERROR,
                        .message = why};
        wire_put_error(&s->out, &e);
        wire_put_ready(&s->out, 'I');
        return true;
    }
    meter_month_now(&r->q.from_us, &r->q.to_us);
    snprintf(r->q.database, sizeof(r->q.database), "%s", cmd->arg);
    r->q.read = cmd->show == ADMIN_SHOW_USAGE  ? STORAGE_LEDGER_SUMMARY
                : cmd->show == ADMIN_SHOW_BILL ? STORAGE_LEDGER_BILL
                                               : STORAGE_LEDGER_TOP;
    snprintf(r->q.order, sizeof(r->q.order), "wall_us");
    r->q.limit = 20;
    r->finish = usage_finish;
    r->session = s;
    s->admin_read = r;
    meter_read_submit(srv, r);
    return false; /* held until usage_finish */
}
