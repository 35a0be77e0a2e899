/*
 * sqlite_meter.c: rows read and written, from SQLite's counters (see
 * sqlite_meter.h for the definitions).
 *
 * Rows read come from a SQLITE_TRACE_PROFILE callback, which SQLite calls
 * as each statement finishes: it sums the statement's scan counters and
 * resets them (a cached prepared statement keeps counting across runs).
 * Rows written come from the preupdate hook, which sees every row change
 * with the old and new values; it only tallies (table, operation, changed
 * columns) because no SQL may run inside it.  At the end of the job the
 * tallies are priced in index entries, from each table's index list (kept
 * per connection until a schema version changes).
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite_meter.h"

typedef struct meter_tally {
    bool temp;      /* the temp schema, else main */
    char *table;
    int op;         /* SQLITE_INSERT, SQLITE_DELETE, SQLITE_UPDATE */
    uint64_t mask;  /* UPDATE: the columns that changed (column i: bit min(i, 63)) */
    uint64_t count;
} meter_tally;

typedef struct meter_table {
    bool temp;
    char *table;
    int nidx;
    uint64_t *masks; /* per index: its key columns (all bits: an expression) */
} meter_table;

struct sqlite_meter {
    uint64_t rows_read, rows_changed;
    int paused; /* > 0: Dormouse's own work on the handle (sqlite_meter_pause, nested) */
    meter_tally *tally;
    int ntally, captally;
    meter_table *tables; /* the index lists known, valid for the versions below */
    int ntables, captables;
    int64_t version_main, version_temp;
    sqlite3_stmt *version_st, *index_st;
};

#define METER_ALL_COLUMNS UINT64_MAX

static uint64_t meter_column_bit(int i)
{
    return (uint64_t)1 << (i < 63 ? i : 63);
}

/* SQLite's schema load: "SELECT*FROM"main".sqlite_master ORDER BY rowid". */
static bool meter_schema_load(sqlite3_stmt *st)
{
    const char *sql = sqlite3_sql(st);
    if (!sql || strncmp(sql, "SELECT*FROM\"", 12) != 0)
        return false;
    size_t n = strlen(sql);
    return n > 15 && strcmp(sql + n - 15, " ORDER BY rowid") == 0;
}

static int meter_profile(unsigned type, void *ctx, void *p, void *x)
{
    struct sqlite_meter *m = ctx;
    sqlite3_stmt *st = p;
    if (!m->paused && !meter_schema_load(st)) {
        sqlite3_int64 visits;
        for (int i = 0; sqlite3_stmt_scanstatus(st, i, SQLITE_SCANSTAT_NVISIT, &visits) == 0; i++)
            m->rows_read += (uint64_t)visits;
    }
    sqlite3_stmt_scanstatus_reset(st);
    return 0;
}

static bool meter_same_value(sqlite3_value *a, sqlite3_value *b)
{
    int t = sqlite3_value_type(a);
    if (t != sqlite3_value_type(b))
        return false;
    switch (t) {
    case SQLITE_NULL:
        return true;
    case SQLITE_INTEGER:
        return sqlite3_value_int64(a) == sqlite3_value_int64(b);
    case SQLITE_FLOAT:
        return sqlite3_value_double(a) == sqlite3_value_double(b);
    default: {
        const void *pa = sqlite3_value_blob(a), *pb = sqlite3_value_blob(b);
        int na = sqlite3_value_bytes(a), nb = sqlite3_value_bytes(b);
        return na == nb && (na == 0 || memcmp(pa, pb, (size_t)na) == 0);
    }
    }
}

static const meter_table *meter_known(const struct sqlite_meter *m, bool temp, const char *table)
{
    for (int i = 0; i < m->ntables; i++)
        if (m->tables[i].temp == temp && strcmp(m->tables[i].table, table) == 0)
            return &m->tables[i];
    return NULL;
}

/* The columns an UPDATE changed. */
static uint64_t meter_changed(sqlite3 *h, sqlite3_int64 key1, sqlite3_int64 key2)
{
    if (key1 != key2)
        return METER_ALL_COLUMNS;
    uint64_t mask = 0;
    int n = sqlite3_preupdate_count(h);
    for (int i = 0; i < n; i++) {
        sqlite3_value *o = NULL, *v = NULL;
        if (sqlite3_preupdate_old(h, i, &o) != SQLITE_OK || sqlite3_preupdate_new(h, i, &v) != SQLITE_OK ||
            !o || !v || !meter_same_value(o, v))
            mask |= meter_column_bit(i);
    }
    return mask;
}

static void meter_preupdate(void *ctx, sqlite3 *h, int op, const char *schema, const char *table,
                            sqlite3_int64 key1, sqlite3_int64 key2)
{
    struct sqlite_meter *m = ctx;
    if (m->paused)
        return;
    bool temp = strcmp(schema, "temp") == 0;
    if (temp && strncmp(table, "_dm_", 4) == 0)
        return;
    m->rows_changed++;
    uint64_t mask = op == SQLITE_UPDATE ? meter_changed(h, key1, key2) : 0;
    for (int i = 0; i < m->ntally; i++) {
        meter_tally *t = &m->tally[i];
        if (t->op == op && t->mask == mask && t->temp == temp && strcmp(t->table, table) == 0) {
            t->count++;
            return;
        }
    }
    if (m->ntally == m->captally) {
        int cap = m->captally ? m->captally * 2 : 8;
        meter_tally *grown = realloc(m->tally, (size_t)cap * sizeof(*grown));
        if (!grown)
            return; /* no memory: the row counts, its index entries do not */
        m->tally = grown;
        m->captally = cap;
    }
    char *name = strdup(table);
    if (!name)
        return;
    m->tally[m->ntally++] = (meter_tally){.temp = temp, .table = name, .op = op, .mask = mask, .count = 1};
}

static void meter_forget_tables(struct sqlite_meter *m)
{
    for (int i = 0; i < m->ntables; i++) {
        free(m->tables[i].table);
        free(m->tables[i].masks);
    }
    m->ntables = 0;
}

/* Drops the index lists if either schema changed since they were read. */
static void meter_check_versions(storage_conn *c, struct sqlite_meter *m)
{
    if (!m->version_st &&
        sqlite3_prepare_v3(c->handle, "SELECT main.schema_version, temp.schema_version "
                                      "FROM pragma_schema_version AS main, "
                                      "pragma_schema_version('temp') AS temp",
                           -1, SQLITE_PREPARE_PERSISTENT, &m->version_st, NULL) != SQLITE_OK) {
        meter_forget_tables(m);
        return;
    }
    int64_t vm = -1, vt = -1;
    if (sqlite3_step(m->version_st) == SQLITE_ROW) {
        vm = sqlite3_column_int64(m->version_st, 0);
        vt = sqlite3_column_int64(m->version_st, 1);
    }
    sqlite3_reset(m->version_st);
    if (vm != m->version_main || vt != m->version_temp || vm < 0)
        meter_forget_tables(m);
    m->version_main = vm;
    m->version_temp = vt;
}

/* Reads a table's indexes and their key columns; NULL if it cannot. */
static const meter_table *meter_learn(storage_conn *c, struct sqlite_meter *m, bool temp,
                                      const char *table)
{
    if (!m->index_st &&
        sqlite3_prepare_v3(c->handle, "SELECT l.seq, x.cid FROM pragma_index_list(?1, ?2) AS l, "
                                      "pragma_index_xinfo(l.name, ?2) AS x WHERE x.key "
                                      "ORDER BY l.seq",
                           -1, SQLITE_PREPARE_PERSISTENT, &m->index_st, NULL) != SQLITE_OK)
        return NULL;
    if (m->ntables == m->captables) {
        int cap = m->captables ? m->captables * 2 : 8;
        meter_table *grown = realloc(m->tables, (size_t)cap * sizeof(*grown));
        if (!grown)
            return NULL;
        m->tables = grown;
        m->captables = cap;
    }
    meter_table t = {.temp = temp, .table = strdup(table)};
    if (!t.table)
        return NULL;
    sqlite3_bind_text(m->index_st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(m->index_st, 2, temp ? "temp" : "main", -1, SQLITE_STATIC);
    int64_t last = -1;
    bool ok = true;
    while (ok && sqlite3_step(m->index_st) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(m->index_st, 0);
        int cid = sqlite3_column_int(m->index_st, 1);
        if (seq != last) {
            uint64_t *grown = realloc(t.masks, (size_t)(t.nidx + 1) * sizeof(*grown));
            if (!grown) {
                ok = false;
                break;
            }
            t.masks = grown;
            t.masks[t.nidx++] = 0;
            last = seq;
        }
        t.masks[t.nidx - 1] |= cid >= 0 ? meter_column_bit(cid) : METER_ALL_COLUMNS;
    }
    sqlite3_reset(m->index_st);
    sqlite3_clear_bindings(m->index_st);
    if (!ok) {
        free(t.table);
        free(t.masks);
        return NULL;
    }
    m->tables[m->ntables] = t;
    return &m->tables[m->ntables++];
}

static uint64_t meter_index_entries(const meter_table *t, const meter_tally *y)
{
    if (y->op != SQLITE_UPDATE)
        return (uint64_t)t->nidx * y->count;
    uint64_t n = 0;
    for (int i = 0; i < t->nidx; i++)
        if (t->masks[i] & y->mask)
            n++;
    return n * y->count;
}

void sqlite_meter_attach(storage_conn *c)
{
    struct sqlite_meter *m = calloc(1, sizeof(*m));
    if (!m)
        return;
    m->version_main = m->version_temp = -1;
    c->meter = m;
    sqlite3_trace_v2(c->handle, SQLITE_TRACE_PROFILE, meter_profile, m);
    sqlite3_preupdate_hook(c->handle, meter_preupdate, m);
}

void sqlite_meter_detach(storage_conn *c)
{
    struct sqlite_meter *m = c->meter;
    if (!m)
        return;
    if (c->handle) {
        sqlite3_trace_v2(c->handle, 0, NULL, NULL);
        sqlite3_preupdate_hook(c->handle, NULL, NULL);
    }
    sqlite3_finalize(m->version_st);
    sqlite3_finalize(m->index_st);
    for (int i = 0; i < m->ntally; i++)
        free(m->tally[i].table);
    free(m->tally);
    meter_forget_tables(m);
    free(m->tables);
    free(m);
    c->meter = NULL;
}

void sqlite_meter_begin(storage_conn *c)
{
    struct sqlite_meter *m = c->meter;
    if (!m)
        return;
    m->rows_read = m->rows_changed = 0;
    for (int i = 0; i < m->ntally; i++)
        free(m->tally[i].table);
    m->ntally = 0;
}

void sqlite_meter_end(storage_conn *c, uint64_t *rows_read, uint64_t *rows_written)
{
    struct sqlite_meter *m = c->meter;
    *rows_read = *rows_written = 0;
    if (!m || !c->handle)
        return;
    uint64_t entries = 0;
    if (m->ntally) {
        /* The lookups below are statements too: what they read is not the job's. */
        uint64_t read = m->rows_read;
        meter_check_versions(c, m);
        for (int i = 0; i < m->ntally; i++) {
            const meter_table *t = meter_known(m, m->tally[i].temp, m->tally[i].table);
            if (!t)
                t = meter_learn(c, m, m->tally[i].temp, m->tally[i].table);
            if (t)
                entries += meter_index_entries(t, &m->tally[i]);
        }
        m->rows_read = read;
    }
    *rows_read = m->rows_read;
    *rows_written = m->rows_changed + entries;
    sqlite_meter_begin(c);
}

void sqlite_meter_pause(storage_conn *c, bool paused)
{
    if (c->meter)
        c->meter->paused += paused ? 1 : -1;
}
