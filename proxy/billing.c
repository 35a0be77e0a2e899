/*
 * Pay-as-you-go billing: plans (built-in and from [plan:NAME] configuration
 * sections) and the itemised bill of one database's usage over one period.
 * billing.h defines every quantity and price; this file only applies them.
 * Nothing here does I/O or keeps state, so any thread may call it.
 */
#include "billing.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BILLING_MONTH_SECONDS (30.0 * 24 * 3600)
#define BILLING_GB 1e9
#define BILLING_MIB 1048576.0
#define BILLING_MILLION 1e6

/* Modelled on public list prices (approximate, USD, 2025); examples to copy
 * into a [plan:NAME] section, not quotes of any provider's current prices. */
static const billing_plan billing_builtins[] = {
    {
        .name = "neon",
        .description = "Modelled on Neon: 0.25 CU at $0.16 per CU-hour while active, "
                       "$0.35 per GB-month of storage, 100 GB of transfer included then "
                       "$0.09 per GB",
        .price_per_compute_hour = 0.16,
        .compute_units = 0.25,
        .min_billing_seconds = 1,
        .price_per_gb_month = 0.35,
        .price_per_gb_transfer = 0.09,
        .included_gb_transfer = 100,
    },
    {
        .name = "aurora-serverless-v2",
        .description = "Modelled on Aurora Serverless v2: 0.5 ACU at $0.12 per ACU-hour "
                       "while active, $0.10 per GB-month of storage, I/O approximated by "
                       "queries at $0.20 per million",
        .price_per_compute_hour = 0.12,
        .compute_units = 0.5,
        .min_billing_seconds = 1,
        .price_per_gb_month = 0.10,
        .price_per_million_queries = 0.20,
    },
    {
        .name = "d1",
        .description = "Modelled on Cloudflare D1: rows read $0.001 per million over 25 "
                       "billion, rows written $1.00 per million over 50 million, storage "
                       "$0.75/GB-month over 5 GB",
        .price_per_million_rows_read = 0.001,
        .included_rows_read = 25e9,
        .price_per_million_rows_written = 1.00,
        .included_rows_written = 50e6,
        .compute_units = 1,
        .min_billing_seconds = 1,
        .price_per_gb_month = 0.75,
        .included_gb_month = 5,
    },
    {
        .name = "cockroachdb",
        .description = "Modelled on CockroachDB Serverless: 50 million request units "
                       "included then $0.10 per million, 10 GB-months of storage included "
                       "then $0.50",
        .price_per_million_request_units = 0.10,
        .included_request_units = 50e6,
        .ru_per_query = 1,
        .ru_per_row_read = 0.0625,
        .ru_per_row_written = 1,
        .ru_per_cpu_second = 333,
        .ru_per_mib_transfer = 1,
        .compute_units = 1,
        .min_billing_seconds = 1,
        .price_per_gb_month = 0.50,
        .included_gb_month = 10,
    },
};

const billing_plan *billing_builtin_plans(size_t *n)
{
    *n = sizeof(billing_builtins) / sizeof(billing_builtins[0]);
    return billing_builtins;
}

void billing_plan_init(billing_plan *p, const char *name)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->min_billing_seconds = 1;
    p->compute_units = 1;
}

/* The numeric keys of a [plan:NAME] section, each with the least value it
 * accepts: value >= min, or value > min when strict. */
typedef struct billing_field {
    const char *key;
    size_t offset;
    double min;
    bool strict;
} billing_field;

#define BILLING_FIELD(f, min, strict)                                                              \
    { #f, offsetof(billing_plan, f), min, strict }

static const billing_field billing_fields[] = {
    BILLING_FIELD(price_per_million_rows_read, 0, false),
    BILLING_FIELD(price_per_million_rows_written, 0, false),
    BILLING_FIELD(included_rows_read, 0, false),
    BILLING_FIELD(included_rows_written, 0, false),
    BILLING_FIELD(price_per_compute_hour, 0, false),
    BILLING_FIELD(compute_units, 0, true),
    BILLING_FIELD(min_billing_seconds, 1, false),
    BILLING_FIELD(included_compute_hours, 0, false),
    BILLING_FIELD(price_per_gb_month, 0, false),
    BILLING_FIELD(included_gb_month, 0, false),
    BILLING_FIELD(price_per_gb_transfer, 0, false),
    BILLING_FIELD(included_gb_transfer, 0, false),
    BILLING_FIELD(price_per_million_queries, 0, false),
    BILLING_FIELD(included_queries, 0, false),
    BILLING_FIELD(price_per_million_request_units, 0, false),
    BILLING_FIELD(included_request_units, 0, false),
    BILLING_FIELD(ru_per_query, 0, false),
    BILLING_FIELD(ru_per_row_read, 0, false),
    BILLING_FIELD(ru_per_row_written, 0, false),
    BILLING_FIELD(ru_per_cpu_second, 0, false),
    BILLING_FIELD(ru_per_mib_transfer, 0, false),
};

/* A plain decimal number, all of s.  The character check keeps out what
 * strtod would also take but a price should never be: "nan", "inf", hex and
 * leading blanks. */
static bool billing_parse_number(const char *s, double *out)
{
    size_t len = strlen(s);
    if (len == 0 || strspn(s, "0123456789.eE+-") != len)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (end != s + len || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool billing_set_number(billing_plan *p, const billing_field *f, const char *value,
                               char *err, size_t errlen)
{
    double v;
    if (!billing_parse_number(value, &v) || v < f->min || (f->strict && v == f->min)) {
        snprintf(err, errlen, "plan \"%s\": %s must be a number %s %g, not \"%s\"", p->name, f->key,
                 f->strict ? ">" : ">=", f->min, value);
        return false;
    }
    *(double *)((char *)p + f->offset) = v;
    return true;
}

bool billing_plan_set(billing_plan *p, const char *key, const char *value, char *err, size_t errlen)
{
    if (strcmp(key, "description") == 0) {
        if (strlen(value) >= sizeof(p->description)) {
            snprintf(err, errlen, "plan \"%s\": description is longer than %zu bytes", p->name,
                     sizeof(p->description) - 1);
            return false;
        }
        snprintf(p->description, sizeof(p->description), "%s", value);
        return true;
    }
    for (size_t i = 0; i < sizeof(billing_fields) / sizeof(billing_fields[0]); i++)
        if (strcmp(key, billing_fields[i].key) == 0)
            return billing_set_number(p, &billing_fields[i], value, err, errlen);
    snprintf(err, errlen, "plan \"%s\": unknown key \"%s\"", p->name, key);
    return false;
}

/* d seconds rounded up to a whole number of steps; 0 for d <= 0 (or NaN). */
static double billing_round_up(double d, double step)
{
    if (!(d > 0))
        return 0;
    double steps = d / step;
    /* A whole number of steps up to rounding noise (8.4 / 1.2 gives
     * 7.000000000000001) must not be billed a step more. */
    double whole = nearbyint(steps);
    if (fabs(steps - whole) <= 1e-9 * whole)
        steps = whole;
    return ceil(steps) * step;
}

static double billing_compute_hours(const billing_plan *p, const billing_usage *u)
{
    assert(p->min_billing_seconds >= 1);
    assert(u->n_active_intervals == 0 || u->active_intervals_s);
    double seconds = 0;
    for (size_t i = 0; i < u->n_active_intervals; i++)
        seconds += billing_round_up(u->active_intervals_s[i], p->min_billing_seconds);
    return seconds * p->compute_units / 3600;
}

static double billing_request_units(const billing_plan *p, const billing_usage *u)
{
    return p->ru_per_query * (double)u->queries + p->ru_per_row_read * (double)u->rows_read +
           p->ru_per_row_written * (double)u->rows_written +
           p->ru_per_cpu_second * (double)u->cpu_us / 1e6 +
           p->ru_per_mib_transfer * (double)u->bytes_out / BILLING_MIB;
}

/* Appends a line for a dimension the plan prices; price is per `per` units
 * (10^6 for the per-million prices, else 1). */
static void billing_add_line(billing_bill *b, const char *item, const char *unit,
                             const char *price_unit, double quantity, double included, double price,
                             double per)
{
    if (!(price > 0))
        return;
    assert(b->nlines < BILLING_MAX_LINES);
    billing_line *l = &b->lines[b->nlines++];
    snprintf(l->item, sizeof(l->item), "%s", item);
    snprintf(l->unit, sizeof(l->unit), "%s", unit);
    snprintf(l->price_unit, sizeof(l->price_unit), "%s", price_unit);
    l->quantity = quantity;
    l->included = included;
    l->billable = quantity > included ? quantity - included : 0;
    l->unit_price = price;
    l->amount = l->billable * price / per;
    b->total += l->amount;
}

void billing_compute(const billing_plan *p, const billing_usage *u, billing_bill *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->plan, sizeof(out->plan), "%s", p->name);
    billing_add_line(out, "rows read", "rows", "per million rows", (double)u->rows_read,
                     p->included_rows_read, p->price_per_million_rows_read, BILLING_MILLION);
    billing_add_line(out, "rows written", "rows", "per million rows", (double)u->rows_written,
                     p->included_rows_written, p->price_per_million_rows_written, BILLING_MILLION);
    billing_add_line(out, "compute", "CU-hours", "per CU-hour", billing_compute_hours(p, u),
                     p->included_compute_hours, p->price_per_compute_hour, 1);
    billing_add_line(out, "storage", "GB-months", "per GB-month",
                     u->storage_byte_seconds / BILLING_GB / BILLING_MONTH_SECONDS,
                     p->included_gb_month, p->price_per_gb_month, 1);
    billing_add_line(out, "transfer", "GB", "per GB", (double)u->bytes_out / BILLING_GB,
                     p->included_gb_transfer, p->price_per_gb_transfer, 1);
    billing_add_line(out, "queries", "queries", "per million queries", (double)u->queries,
                     p->included_queries, p->price_per_million_queries, BILLING_MILLION);
    billing_add_line(out, "request units", "RU", "per million RU", billing_request_units(p, u),
                     p->included_request_units, p->price_per_million_request_units,
                     BILLING_MILLION);
}

/* Money to the micro-dollar, for display; the bill itself keeps full precision. */
static double billing_round_usd(double usd)
{
    return round(usd * 1e6) / 1e6;
}

json_t *billing_bill_to_json(const billing_bill *b)
{
    json_t *o = json_pack("{s:s, s:f, s:s, s:[]}", "plan", b->plan, "total",
                          billing_round_usd(b->total), "currency", "USD", "lines");
    json_t *lines = o ? json_object_get(o, "lines") : NULL; /* borrowed */
    if (!lines) {
        json_decref(o);
        return NULL;
    }
    for (int i = 0; i < b->nlines; i++) {
        const billing_line *l = &b->lines[i];
        json_t *line = json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:s, s:f}", "item", l->item,
                                 "unit", l->unit, "quantity", l->quantity, "included", l->included,
                                 "billable", l->billable, "unit_price", l->unit_price, "price_unit",
                                 l->price_unit, "amount", billing_round_usd(l->amount));
        if (json_array_append_new(lines, line) != 0) { /* frees line, or line was NULL */
            json_decref(o);
            return NULL;
        }
    }
    return o;
}
