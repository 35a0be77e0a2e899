/*
 * Pay-as-you-go billing: an itemised bill for one database over one period,
 * computed from its usage totals under a pricing plan.  Pure computation: no
 * I/O, no globals but the const table of built-in plans, so every function
 * may be called from any thread on objects the caller owns.
 *
 * Plans.  A plan prices up to seven dimensions.  A price of 0 means the
 * dimension is not billed; a dimension with a price > 0 always has a line on
 * the bill, with amount 0 if there was no usage or the usage stayed within
 * what is included.  Lines come in this order:
 *
 *   item            unit       quantity                               priced
 *   rows read       rows       rows_read                              per million rows
 *   rows written    rows       rows_written                           per million rows
 *   compute         CU-hours   see below                              per CU-hour
 *   storage         GB-months  storage_byte_seconds / 1e9 / 2592000   per GB-month
 *   transfer        GB         bytes_out / 1e9                        per GB
 *   queries         queries    queries                                per million queries
 *   request units   RU         see below                              per million RU
 *
 * GB means 10^9 bytes and MiB 2^20 bytes; a month is 30 days (2,592,000 s),
 * so a database of 1 GB for the whole of a 30-day month uses 1 GB-month.
 *
 * Compute is billed while the database is active (resumed, not paused): each
 * active interval of d seconds is rounded up to a whole number of
 * min_billing_seconds (so min_billing_seconds is also the minimum per
 * interval), an interval of 0 s or less counts 0, and
 *     CU-hours = sum of rounded intervals * compute_units / 3600.
 * With min_billing_seconds 1, intervals of {0.4, 3600, 10.2} s are billed as
 * {1, 3600, 11} s.
 *
 * Request units (CockroachDB style):
 *     RU = ru_per_query * queries + ru_per_row_read * rows_read
 *        + ru_per_row_written * rows_written + ru_per_cpu_second * cpu_us / 1e6
 *        + ru_per_mib_transfer * bytes_out / 2^20.
 *
 * Each line: included is the plan's allowance for the period (whole, never
 * prorated to the period's length), billable = max(0, quantity - included),
 * unit_price is the plan's price per price_unit, and amount (USD, not
 * rounded) = billable * unit_price, divided by 10^6 for the per-million units.
 * The bill's total is the sum of the amounts.  period_start_us and
 * period_end_us name the period; no amount depends on them.  rows_returned
 * and bytes_in are not billed by any dimension.
 *
 * Configuration: a [plan:NAME] section becomes billing_plan_init(p, NAME)
 * followed by billing_plan_set() for each of its lines; the name comes from
 * the section header only ("name" is not a key).
 */
#ifndef DORMOUSE_PROXY_BILLING_H
#define DORMOUSE_PROXY_BILLING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dormouse/proxy.h"

#define BILLING_MAX_LINES 8

/* billing_plan: include/dormouse/proxy.h (the configuration holds plans). */
/* (meter_billing_usage in internal.h builds a billing_usage from the ledger's answer.) */

typedef struct billing_usage {
    int64_t period_start_us, period_end_us; /* [start, end), microseconds since the epoch */
    uint64_t queries, rows_read, rows_written, rows_returned, bytes_in, bytes_out, cpu_us;
    const double *active_intervals_s; /* the duration in seconds of each active interval
                                         (resume..pause) in the period; borrowed */
    size_t n_active_intervals;
    double storage_byte_seconds; /* integral of the database's size over the period */
} billing_usage;

typedef struct billing_line {
    char item[48]; /* "rows read", ..., "request units" (see above) */
    char unit[32]; /* what quantity counts: "rows", "CU-hours", ... */
    double quantity, included, billable, unit_price;
    char price_unit[32]; /* what unit_price is per: "per million rows", "per CU-hour", ... */
    double amount;       /* USD, not rounded */
} billing_line;

typedef struct billing_bill {
    char plan[64];
    billing_line lines[BILLING_MAX_LINES];
    int nlines;
    double total; /* USD, the sum of the amounts */
} billing_bill;

/* Resets p to a plan named name (truncated to 63 bytes) that bills nothing:
 * every price, allowance and RU weight 0, min_billing_seconds 1,
 * compute_units 1. */
void billing_plan_init(billing_plan *p, const char *name);

/* Sets one field of p from a configuration line: key is a numeric field's
 * name or "description".  Numbers are plain decimals (an exponent is allowed:
 * 25e9), finite and >= 0; min_billing_seconds must be >= 1 and compute_units
 * > 0.  On failure returns false, leaves p unchanged and writes a message
 * naming the plan, the key and the value to err (errlen bytes, truncated). */
bool billing_plan_set(billing_plan *p, const char *key, const char *value, char *err,
                      size_t errlen);

/* The built-in example plans (static, never freed), *n of them: neon,
 * aurora-serverless-v2, d1 and cockroachdb. */
const billing_plan *billing_builtin_plans(size_t *n);

/* Fills out with p's bill for u (see above for every definition).  p must
 * have min_billing_seconds >= 1, as billing_plan_init/_set guarantee. */
void billing_compute(const billing_plan *p, const billing_usage *u, billing_bill *out);

/* b as a new JSON object, owned by the caller (json_decref), or NULL if out
 * of memory:
 *   {"plan", "total", "currency": "USD", "lines": [{"item", "unit",
 *    "quantity", "included", "billable", "unit_price", "price_unit",
 *    "amount"}, ...]}
 * with total and amount rounded to 6 decimals (micro-dollars). */
json_t *billing_bill_to_json(const billing_bill *b);

#endif
