/*
 * catalog.c: pg_catalog and information_schema on a SQLite connection.
 *
 * See catalog.h for the contract.  The layout:
 *
 *   catalog_tables[]     the TEMP tables, PostgreSQL 15's columns in order,
 *                        with declared types that sqlite_types.c maps to the
 *                        column's PostgreSQL type ("char" and array columns
 *                        are text, arrays in PostgreSQL's text form '{a,b}')
 *   catalog_types[]      the built-in types: pg_type's rows (with an array
 *                        type for each) and format_type()
 *   catalog_fixed_sql    rows every database has: namespaces, roles, access
 *                        methods, collations, tablespaces, settings
 *   catalog_schema_sql   rows made from the database's schema by SQLite:
 *                        relations, columns, defaults, indexes, constraints
 *   SQL functions        those psql and the drivers call (catalog_functions[])
 *                        and two table-valued ones, generate_series and
 *                        dm_unnest (a virtual table module)
 *
 * Names and OIDs follow PostgreSQL: a primary key's index and constraint is
 * table_pkey, a UNIQUE column's table_col_key (SQLite names them
 * sqlite_autoindex_table_N), a foreign key table_col_fkey; a SERIAL column
 * (INTEGER PRIMARY KEY AUTOINCREMENT in SQLite) is an integer with default
 * nextval('table_col_seq'::regclass).  Relation OIDs are hashes of the name
 * (catalog_oid), so they are the same in every table that refers to them and
 * across connections.  Dormouse's own tables (_dormouse*) and SQLite's
 * (sqlite_*) are left out.
 *
 * The storage layer does not know the connecting user: the role that owns
 * the database and its objects is named after the database (as in
 * `createdb -O demo demo`), next to the superuser "postgres".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "catalog.h"
#include "sqlite_types.h"

#define CATALOG_NS_CATALOG 11
#define CATALOG_NS_TOAST 99
#define CATALOG_NS_PUBLIC 2200
#define CATALOG_NS_INFORMATION_SCHEMA 13212
#define CATALOG_FIRST_OID 16384u

/* ---- the tables ---- */

static const struct {
    const char *name;
    const char *columns;
} catalog_tables[] = {
    {"pg_namespace", "oid oid, nspname name, nspowner oid, nspacl text"},
    {"pg_class",
     "oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam "
     "oid, relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible "
     "int4, reltoastrelid oid, relhasindex boolean, relisshared boolean, relpersistence text, "
     "relkind text, relnatts int2, relchecks int2, relhasrules boolean, relhastriggers boolean, "
     "relhassubclass boolean, relrowsecurity boolean, relforcerowsecurity boolean, relispopulated "
     "boolean, relreplident text, relispartition boolean, relrewrite oid, relfrozenxid int8, "
     "relminmxid int8, relacl text, reloptions text, relpartbound text"},
    {"pg_type",
     "oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval boolean, "
     "typtype text, typcategory text, typispreferred boolean, typisdefined boolean, typdelim text, "
     "typrelid oid, typsubscript text, typelem oid, typarray oid, typinput text, typoutput text, "
     "typreceive text, typsend text, typmodin text, typmodout text, typanalyze text, typalign "
     "text, typstorage text, typnotnull boolean, typbasetype oid, typtypmod int4, typndims int4, "
     "typcollation oid, typdefaultbin text, typdefault text, typacl text"},
    {"pg_attribute",
     "attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2, attnum int2, "
     "attndims int4, attcacheoff int4, atttypmod int4, attbyval boolean, attalign text, attstorage "
     "text, attcompression text, attnotnull boolean, atthasdef boolean, atthasmissing boolean, "
     "attidentity text, attgenerated text, attisdropped boolean, attislocal boolean, attinhcount "
     "int4, attcollation oid, attacl text, attoptions text, attfdwoptions text, attmissingval "
     "text"},
    {"pg_attrdef", "oid oid, adrelid oid, adnum int2, adbin text"},
    {"pg_index",
     "indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique boolean, "
     "indnullsnotdistinct boolean, indisprimary boolean, indisexclusion boolean, indimmediate "
     "boolean, indisclustered boolean, indisvalid boolean, indcheckxmin boolean, indisready "
     "boolean, indislive boolean, indisreplident boolean, indkey text, indcollation text, indclass "
     "text, indoption text, indexprs text, indpred text"},
    {"pg_constraint",
     "oid oid, conname name, connamespace oid, contype text, condeferrable boolean, condeferred "
     "boolean, convalidated boolean, conrelid oid, contypid oid, conindid oid, conparentid oid, "
     "confrelid oid, confupdtype text, confdeltype text, confmatchtype text, conislocal boolean, "
     "coninhcount int4, connoinherit boolean, conkey text, confkey text, conpfeqop text, conppeqop "
     "text, conffeqop text, confdelsetcols text, conexclop text, conbin text"},
    {"pg_database", "oid oid, datname name, datdba oid, encoding int4, datlocprovider text, "
                    "datistemplate boolean, datallowconn boolean, datconnlimit int4, datfrozenxid "
                    "int8, datminmxid int8, dattablespace oid, datcollate text, datctype text, "
                    "daticulocale text, datcollversion text, datacl text"},
    {"pg_authid",
     "oid oid, rolname name, rolsuper boolean, rolinherit boolean, rolcreaterole boolean, "
     "rolcreatedb boolean, rolcanlogin boolean, rolreplication boolean, rolbypassrls boolean, "
     "rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz"},
    {"pg_roles",
     "rolname name, rolsuper boolean, rolinherit boolean, rolcreaterole boolean, rolcreatedb "
     "boolean, rolcanlogin boolean, rolreplication boolean, rolconnlimit int4, rolpassword text, "
     "rolvaliduntil timestamptz, rolbypassrls boolean, rolconfig text, oid oid"},
    {"pg_user", "usename name, usesysid oid, usecreatedb boolean, usesuper boolean, userepl "
                "boolean, usebypassrls boolean, passwd text, valuntil timestamptz, useconfig text"},
    {"pg_auth_members", "oid oid, roleid oid, member oid, grantor oid, admin_option boolean"},
    {"pg_am", "oid oid, amname name, amhandler text, amtype text"},
    {"pg_settings",
     "name text, setting text, unit text, category text, short_desc text, extra_desc text, context "
     "text, vartype text, source text, min_val text, max_val text, enumvals text, boot_val text, "
     "reset_val text, sourcefile text, sourceline int4, pending_restart boolean"},
    {"pg_description", "objoid oid, classoid oid, objsubid int4, description text"},
    {"pg_shdescription", "objoid oid, classoid oid, description text"},
    {"pg_tablespace", "oid oid, spcname name, spcowner oid, spcacl text, spcoptions text"},
    {"pg_collation", "oid oid, collname name, collnamespace oid, collowner oid, collprovider text, "
                     "collisdeterministic boolean, collencoding int4, collcollate text, collctype "
                     "text, colliculocale text, collversion text"},
    {"pg_proc",
     "oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4, prorows "
     "float4, provariadic oid, prosupport text, prokind text, prosecdef boolean, proleakproof "
     "boolean, proisstrict boolean, proretset boolean, provolatile text, proparallel text, "
     "pronargs int2, pronargdefaults int2, prorettype oid, proargtypes text, proallargtypes text, "
     "proargmodes text, proargnames text, proargdefaults text, protrftypes text, prosrc text, "
     "probin text, prosqlbody text, proconfig text, proacl text"},
    {"pg_inherits", "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending boolean"},
    {"pg_trigger", "oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2, "
                   "tgenabled text, tgisinternal boolean, tgconstrrelid oid, tgconstrindid oid, "
                   "tgconstraint oid, tgdeferrable boolean, tginitdeferred boolean, tgnargs int2, "
                   "tgattr text, tgargs text, tgqual text, tgoldtable name, tgnewtable name"},
    {"pg_policy", "oid oid, polname name, polrelid oid, polcmd text, polpermissive boolean, "
                  "polroles text, polqual text, polwithcheck text"},
    {"pg_rewrite", "oid oid, rulename name, ev_class oid, ev_type text, ev_enabled text, "
                   "is_instead boolean, ev_qual text, ev_action text"},
    {"pg_statistic_ext", "oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid, "
                         "stxstattarget int4, stxkeys text, stxkind text, stxexprs text"},
    {"pg_publication",
     "oid oid, pubname name, pubowner oid, puballtables boolean, pubinsert boolean, pubupdate "
     "boolean, pubdelete boolean, pubtruncate boolean, pubviaroot boolean"},
    {"pg_publication_namespace", "oid oid, pnpubid oid, pnnspid oid"},
    {"pg_publication_rel", "oid oid, prpubid oid, prrelid oid, prqual text, prattrs text"},
    {"pg_partitioned_table", "partrelid oid, partstrat text, partnatts int2, partdefid oid, "
                             "partattrs text, partclass text, partcollation text, partexprs text"},
    {"pg_enum", "oid oid, enumtypid oid, enumsortorder float4, enumlabel name"},
    {"pg_range", "rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid, rngsubopc "
                 "oid, rngcanonical text, rngsubdiff text"},
    {"pg_extension", "oid oid, extname name, extowner oid, extnamespace oid, extrelocatable "
                     "boolean, extversion text, extconfig text, extcondition text"},
    {"pg_sequence", "seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, "
                    "seqmin int8, seqcache int8, seqcycle boolean"},
    {"pg_depend", "classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, "
                  "refobjsubid int4, deptype text"},
    {"_dm_is_tables",
     "table_catalog name, table_schema name, table_name name, table_type text, "
     "self_referencing_column_name name, reference_generation text, user_defined_type_catalog "
     "name, user_defined_type_schema name, user_defined_type_name name, is_insertable_into text, "
     "is_typed text, commit_action text"},
    {"_dm_is_columns",
     "table_catalog name, table_schema name, table_name name, column_name name, ordinal_position "
     "int4, column_default text, is_nullable text, data_type text, character_maximum_length int4, "
     "character_octet_length int4, numeric_precision int4, numeric_precision_radix int4, "
     "numeric_scale int4, datetime_precision int4, udt_catalog name, udt_schema name, udt_name "
     "name, is_identity text, is_generated text, is_updatable text"},
    {"_dm_is_schemata",
     "catalog_name name, schema_name name, schema_owner name, default_character_set_catalog name, "
     "default_character_set_schema name, default_character_set_name name, sql_path text"},
    /* internal: catalog state; the definitions pg_get_indexdef() and
     * pg_get_constraintdef() return, and the names of OIDs (reg* output,
     * pg_get_userbyid), under column names that cannot capture a column
     * reference of the query they are looked up from */
    {"_dm_catalog", "version int8"},
    {"_dm_defs", "_dm_oid oid PRIMARY KEY, _dm_def text"},
    {"_dm_names", "_dm_kind text, _dm_oid oid, _dm_name text, PRIMARY KEY (_dm_kind, _dm_oid)"},
    {"_dm_idx",
     "tbl text, name text, isprimary int, isunique int, origin text, cols text, keys text, "
     "nkeys int"},
    {"_dm_col",
     "tbl text, num int, name text, decl text, typid int, typmod int, nn int, dflt text, "
     "pk int, serial int, isview int, ident text"},
    {"_dm_fk",
     "tbl text, name text, ref text, cols text, refcols text, conkey text, confkey text, upd text, "
     "del text"},
};

static const struct {
    const char *pg;
    const char *table;
} catalog_information_schema_tables[] = {
    {"tables", "_dm_is_tables"},
    {"columns", "_dm_is_columns"},
    {"schemata", "_dm_is_schemata"},
};

bool catalog_is_relation(const char *name)
{
    if (!name || strncmp(name, "pg_", 3) != 0)
        return false;
    for (size_t i = 0; i < sizeof(catalog_tables) / sizeof(catalog_tables[0]); i++)
        if (strcmp(catalog_tables[i].name, name) == 0)
            return true;
    return false;
}

bool catalog_is_temp_table(const char *name)
{
    for (size_t i = 0; name && i < sizeof(catalog_tables) / sizeof(catalog_tables[0]); i++)
        if (strcmp(catalog_tables[i].name, name) == 0)
            return true;
    return false;
}

const char *catalog_information_schema(const char *name)
{
    for (size_t i = 0; name && i < sizeof(catalog_information_schema_tables) /
                                       sizeof(catalog_information_schema_tables[0]);
         i++)
        if (strcmp(catalog_information_schema_tables[i].pg, name) == 0)
            return catalog_information_schema_tables[i].table;
    return NULL;
}

uint32_t catalog_oid(const char *name)
{
    uint64_t h = XXH3_64bits(name ? name : "", name ? strlen(name) : 0);
    return CATALOG_FIRST_OID + (uint32_t)(h % (0x80000000u - CATALOG_FIRST_OID));
}

/* ---- built-in types ---- */

typedef struct catalog_type {
    uint32_t oid;
    const char *name;    /* typname */
    const char *sqlname; /* format_type()'s name */
    int16_t len;
    bool byval;
    char type;     /* typtype */
    char category; /* typcategory */
    bool preferred;
    uint32_t elem;  /* typelem */
    uint32_t array; /* typarray; the array type's row is made from this one */
    const char *io; /* typinput is io + "in" (or "_in" when io ends in '_') */
    char align;
    char storage;
    uint32_t collation;
} catalog_type;

static const catalog_type catalog_types[] = {
    {16, "bool", "boolean", 1, true, 'b', 'B', true, 0, 1000, "bool", 'c', 'p', 0},
    {17, "bytea", "bytea", -1, false, 'b', 'U', false, 0, 1001, "bytea", 'i', 'x', 0},
    {18, "char", "\"char\"", 1, true, 'b', 'Z', false, 0, 1002, "char", 'c', 'p', 0},
    {19, "name", "name", 64, false, 'b', 'S', false, 18, 1003, "name", 'c', 'p', 950},
    {20, "int8", "bigint", 8, true, 'b', 'N', false, 0, 1016, "int8", 'd', 'p', 0},
    {21, "int2", "smallint", 2, true, 'b', 'N', false, 0, 1005, "int2", 's', 'p', 0},
    {22, "int2vector", "int2vector", -1, false, 'b', 'A', false, 21, 1006, "int2vector", 'i', 'p',
     0},
    {23, "int4", "integer", 4, true, 'b', 'N', false, 0, 1007, "int4", 'i', 'p', 0},
    {24, "regproc", "regproc", 4, true, 'b', 'N', false, 0, 1008, "regproc", 'i', 'p', 0},
    {25, "text", "text", -1, false, 'b', 'S', true, 0, 1009, "text", 'i', 'x', 100},
    {26, "oid", "oid", 4, true, 'b', 'N', true, 0, 1028, "oid", 'i', 'p', 0},
    {30, "oidvector", "oidvector", -1, false, 'b', 'A', false, 26, 1013, "oidvector", 'i', 'p', 0},
    {114, "json", "json", -1, false, 'b', 'U', false, 0, 199, "json_", 'i', 'x', 0},
    {700, "float4", "real", 4, true, 'b', 'N', false, 0, 1021, "float4", 'i', 'p', 0},
    {701, "float8", "double precision", 8, true, 'b', 'N', true, 0, 1022, "float8", 'd', 'p', 0},
    {705, "unknown", "unknown", -2, false, 'p', 'X', false, 0, 0, "unknown", 'c', 'p', 0},
    {1042, "bpchar", "character", -1, false, 'b', 'S', false, 0, 1014, "bpchar", 'i', 'x', 100},
    {1043, "varchar", "character varying", -1, false, 'b', 'S', false, 0, 1015, "varchar", 'i', 'x',
     100},
    {1082, "date", "date", 4, true, 'b', 'D', false, 0, 1182, "date_", 'i', 'p', 0},
    {1083, "time", "time without time zone", 8, true, 'b', 'D', false, 0, 1183, "time_", 'd', 'p',
     0},
    {1114, "timestamp", "timestamp without time zone", 8, true, 'b', 'D', false, 0, 1115,
     "timestamp_", 'd', 'p', 0},
    {1184, "timestamptz", "timestamp with time zone", 8, true, 'b', 'D', true, 0, 1185,
     "timestamptz_", 'd', 'p', 0},
    {1186, "interval", "interval", 16, false, 'b', 'T', true, 0, 1187, "interval_", 'd', 'p', 0},
    {1266, "timetz", "time with time zone", 12, false, 'b', 'D', false, 0, 1270, "timetz_", 'd',
     'p', 0},
    {1700, "numeric", "numeric", -1, false, 'b', 'N', false, 0, 1231, "numeric_", 'i', 'm', 0},
    {2205, "regclass", "regclass", 4, true, 'b', 'N', false, 0, 2210, "regclass", 'i', 'p', 0},
    {2206, "regtype", "regtype", 4, true, 'b', 'N', false, 0, 2211, "regtype", 'i', 'p', 0},
    {2249, "record", "record", -1, false, 'p', 'P', false, 0, 2287, "record_", 'd', 'x', 0},
    {2278, "void", "void", 4, true, 'p', 'P', false, 0, 0, "void_", 'i', 'p', 0},
    {2950, "uuid", "uuid", 16, false, 'b', 'U', false, 0, 2951, "uuid_", 'c', 'p', 0},
    {3802, "jsonb", "jsonb", -1, false, 'b', 'U', false, 0, 3807, "jsonb_", 'i', 'x', 0},
};

#define CATALOG_NTYPES (sizeof(catalog_types) / sizeof(catalog_types[0]))

/* The type with this OID; *is_array when oid is the array type of it. */
static const catalog_type *catalog_type_find(uint32_t oid, bool *is_array)
{
    for (size_t i = 0; i < CATALOG_NTYPES; i++) {
        if (catalog_types[i].oid == oid || (catalog_types[i].array == oid && oid)) {
            *is_array = catalog_types[i].oid != oid;
            return &catalog_types[i];
        }
    }
    return NULL;
}

bool catalog_format_type(uint32_t oid, int32_t typmod, char *buf, size_t len)
{
    bool is_array = false;
    const catalog_type *t = catalog_type_find(oid, &is_array);
    if (!t) {
        snprintf(buf, len, "???");
        return false;
    }
    const char *suffix = is_array ? "[]" : "";
    switch (t->oid) {
    case 1043:
        if (typmod >= 4)
            snprintf(buf, len, "character varying(%d)%s", typmod - 4, suffix);
        else
            snprintf(buf, len, "character varying%s", suffix);
        return true;
    case 1042:
        if (typmod >= 4)
            snprintf(buf, len, "character(%d)%s", typmod - 4, suffix);
        else
            snprintf(buf, len, "bpchar%s", suffix);
        return true;
    case 1700:
        if (typmod >= 4)
            snprintf(buf, len, "numeric(%d,%d)%s", ((typmod - 4) >> 16) & 0xffff,
                     (typmod - 4) & 0xffff, suffix);
        else
            snprintf(buf, len, "numeric%s", suffix);
        return true;
    case 1083:
    case 1114:
    case 1184:
    case 1266:
        if (typmod >= 0) {
            const char *tz = strstr(t->sqlname, " with");
            snprintf(buf, len, "%s(%d)%s%s",
                     t->oid == 1083 || t->oid == 1266 ? "time" : "timestamp", typmod, tz ? tz : "",
                     suffix);
            return true;
        }
        break;
    default:
        break;
    }
    snprintf(buf, len, "%s%s", t->sqlname, suffix);
    return true;
}

/* ---- identifiers ---- */

/* Keywords quote_ident() quotes (PostgreSQL quotes every keyword that is not
 * unreserved). */
static const char *const catalog_keywords[] = {
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
};

/* PostgreSQL's quote_ident(): the name as is when it needs no quotes. */
static char *catalog_quote_ident(const char *s)
{
    bool plain = s[0] && (islower((unsigned char)s[0]) || s[0] == '_');
    for (const char *p = s; plain && *p; p++)
        plain = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '$';
    for (size_t i = 0; plain && i < sizeof(catalog_keywords) / sizeof(catalog_keywords[0]); i++)
        if (strcmp(s, catalog_keywords[i]) == 0)
            plain = false;
    if (plain)
        return sqlite3_mprintf("%s", s);
    size_t n = strlen(s), q = 0;
    for (const char *p = s; *p; p++)
        q += *p == '"';
    char *out = sqlite3_malloc64(n + q + 3);
    if (!out)
        return NULL;
    char *o = out;
    *o++ = '"';
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            *o++ = '"';
        *o++ = *p;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* ---- column defaults ---- */

static bool catalog_is_number(const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    bool digits = false;
    while (isdigit((unsigned char)*p) || *p == '.') {
        digits |= *p != '.';
        p++;
    }
    if (digits && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return digits && !*p;
}

/* The translator double-quotes every identifier: "now"() is now(). */
static void catalog_unquote_calls(char *s)
{
    char *o = s;
    for (char *p = s; *p;) {
        if (*p == '"' && (islower((unsigned char)p[1]) || p[1] == '_')) {
            char *q = p + 1;
            while (islower((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_')
                q++;
            if (q[0] == '"' && q[1] == '(') {
                memmove(o, p + 1, (size_t)(q - p - 1));
                o += q - p - 1;
                p = q + 1;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = '\0';
}

void catalog_default_expr(const char *d, uint32_t oid, char *buf, size_t len)
{
    char type[96];
    catalog_format_type(oid, -1, type, sizeof(type));
    size_t n = strlen(d);
    /* the translator wraps defaults in parentheses; SQLite keeps inner ones */
    while (n >= 2 && d[0] == '(' && d[n - 1] == ')') {
        d++;
        n -= 2;
    }
    char v[512];
    snprintf(v, sizeof(v), "%.*s", (int)n, d);
    if (v[0] != '\'')
        catalog_unquote_calls(v);
    if (oid == 16 && (strcmp(v, "1") == 0 || strcmp(v, "0") == 0)) {
        snprintf(buf, len, "%s", v[0] == '1' ? "true" : "false");
    } else if (catalog_is_number(v)) {
        if (v[0] == '-')
            snprintf(buf, len, "'%s'::%s", v, type);
        else
            snprintf(buf, len, "%s", v);
    } else if (v[0] == '\'' && v[strlen(v) - 1] == '\'' && strlen(v) >= 2) {
        snprintf(buf, len, "%s::%s", v, type);
    } else if (strcmp(v, "dm_current_date()") == 0) {
        snprintf(buf, len, "CURRENT_DATE");
    } else if (strcmp(v, "dm_localtimestamp()") == 0) {
        snprintf(buf, len, "LOCALTIMESTAMP");
    } else if (strcmp(v, "dm_current_time()") == 0) {
        snprintf(buf, len, "CURRENT_TIME");
    } else {
        snprintf(buf, len, "%s", v);
    }
}

/* ---- arrays in PostgreSQL's text form ---- */

/* Calls fn for each element of '{a,"b c",NULL}' (NULL elements as NULL);
 * stops when fn returns false.  Returns false if s is not an array literal
 * or out of memory.  Nested arrays are not parsed (one dimension). */
typedef bool (*catalog_elem_fn)(void *arg, const char *elem, size_t len);

static bool catalog_array_each(const char *s, catalog_elem_fn fn, void *arg)
{
    if (!s || *s != '{')
        return false;
    size_t cap = strlen(s) + 1;
    char *tmp = malloc(cap);
    if (!tmp)
        return false;
    const char *p = s + 1;
    bool ok = true;
    while (*p && *p != '}') {
        size_t n = 0;
        bool quoted = false;
        while (*p == ' ')
            p++;
        if (*p == '"') {
            quoted = true;
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                tmp[n++] = *p;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',' && *p != '}')
                tmp[n++] = *p++;
            while (n && tmp[n - 1] == ' ')
                n--;
        }
        tmp[n] = '\0';
        bool is_null = !quoted && n == 4 && strncasecmp(tmp, "null", 4) == 0;
        if (!fn(arg, is_null ? NULL : tmp, n))
            break;
        if (*p == ',')
            p++;
        else if (*p != '}') {
            ok = false;
            break;
        }
    }
    free(tmp);
    return ok;
}

/* Appends one element to an array literal being built in a sqlite3_str. */
static void catalog_array_put(sqlite3_str *out, bool first, const char *v)
{
    if (!first)
        sqlite3_str_appendchar(out, 1, ',');
    if (!v) {
        sqlite3_str_appendall(out, "NULL");
        return;
    }
    bool quote = !*v || strcasecmp(v, "null") == 0;
    for (const char *p = v; !quote && *p; p++)
        quote = strchr("{},\"\\ \t\n", *p) != NULL;
    if (!quote) {
        sqlite3_str_appendall(out, v);
        return;
    }
    sqlite3_str_appendchar(out, 1, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            sqlite3_str_appendchar(out, 1, '\\');
        sqlite3_str_appendchar(out, 1, *p);
    }
    sqlite3_str_appendchar(out, 1, '"');
}

static void catalog_result_str(sqlite3_context *ctx, sqlite3_str *s)
{
    int rc = sqlite3_str_errcode(s);
    char *v = sqlite3_str_finish(s);
    if (rc != SQLITE_OK || !v) {
        sqlite3_free(v);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_text(ctx, v, -1, sqlite3_free);
}

typedef struct catalog_walk {
    sqlite3_context *ctx;
    sqlite3_str *out; /* array_to_string */
    const char *sep;
    const char *null_as;
    const char *needle; /* array_position */
    int64_t want;       /* dm_array_get: 1-based index */
    int64_t n;          /* elements seen */
    int64_t found;
    bool first;
} catalog_walk;

static bool catalog_walk_count(void *arg, const char *e, size_t len)
{
    (void)e, (void)len;
    ((catalog_walk *)arg)->n++;
    return true;
}

static bool catalog_walk_join(void *arg, const char *e, size_t len)
{
    catalog_walk *w = arg;
    if (!e && !w->null_as)
        return true;
    if (!w->first)
        sqlite3_str_appendall(w->out, w->sep);
    w->first = false;
    if (e)
        sqlite3_str_append(w->out, e, (int)len);
    else
        sqlite3_str_appendall(w->out, w->null_as);
    return true;
}

static bool catalog_walk_find(void *arg, const char *e, size_t len)
{
    catalog_walk *w = arg;
    w->n++;
    if (e && strlen(w->needle) == len && memcmp(w->needle, e, len) == 0) {
        w->found = w->n;
        return false;
    }
    return true;
}

static bool catalog_walk_get(void *arg, const char *e, size_t len)
{
    catalog_walk *w = arg;
    if (++w->n != w->want)
        return true;
    if (e)
        sqlite3_result_text(w->ctx, e, (int)len, SQLITE_TRANSIENT);
    return false;
}

static const char *catalog_arg_text(sqlite3_value *v)
{
    return sqlite3_value_type(v) == SQLITE_NULL ? NULL : (const char *)sqlite3_value_text(v);
}

/* array_to_string(arr, sep [, null_string]) */
static void fn_array_to_string(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *a = catalog_arg_text(argv[0]), *sep = catalog_arg_text(argv[1]);
    if (!a || !sep)
        return;
    catalog_walk w = {.ctx = ctx,
                      .out = sqlite3_str_new(NULL),
                      .sep = sep,
                      .null_as = argc > 2 ? catalog_arg_text(argv[2]) : NULL,
                      .first = true};
    catalog_array_each(a, catalog_walk_join, &w);
    catalog_result_str(ctx, w.out);
}

/* array_upper(arr, 1), array_length(arr, 1), cardinality(arr); array_lower */
static void fn_array_upper(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *a = catalog_arg_text(argv[0]);
    if (!a || (argc > 1 && sqlite3_value_int(argv[1]) != 1))
        return;
    catalog_walk w = {0};
    catalog_array_each(a, catalog_walk_count, &w);
    if (w.n || sqlite3_user_data(ctx))
        sqlite3_result_int64(ctx, w.n);
}

static void fn_array_lower(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *a = catalog_arg_text(argv[0]);
    catalog_walk w = {0};
    if (a && sqlite3_value_int(argv[1]) == 1 && catalog_array_each(a, catalog_walk_count, &w) &&
        w.n)
        sqlite3_result_int(ctx, 1);
}

/* array_position(arr, x): the first index holding x (compared as text) */
static void fn_array_position(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *a = catalog_arg_text(argv[0]);
    const char *x = catalog_arg_text(argv[1]);
    if (!a || !x)
        return;
    catalog_walk w = {.needle = x};
    catalog_array_each(a, catalog_walk_find, &w);
    if (w.found)
        sqlite3_result_int64(ctx, w.found);
}

/* dm_array_get(arr, i): arr[i], 1-based; NULL out of range */
static void fn_array_get(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *a = catalog_arg_text(argv[0]);
    if (!a || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return;
    catalog_walk w = {.ctx = ctx, .want = sqlite3_value_int64(argv[1])};
    catalog_array_each(a, catalog_walk_get, &w);
}

/* dm_array(a, b, ...): ARRAY[a, b, ...] */
static void fn_array(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(s, 1, '{');
    for (int i = 0; i < argc; i++)
        catalog_array_put(s, i == 0, catalog_arg_text(argv[i]));
    sqlite3_str_appendchar(s, 1, '}');
    catalog_result_str(ctx, s);
}

/* dm_array_agg(x): ARRAY(subquery), '{}' when there are no rows;
 * dm_array_agg_or_null(x): array_agg(x), NULL when there are none (the
 * function's user data says which). */
static void fn_array_agg_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_str **s = sqlite3_aggregate_context(ctx, sizeof(*s));
    if (!s)
        return;
    bool first = !*s;
    if (first) {
        *s = sqlite3_str_new(NULL);
        sqlite3_str_appendchar(*s, 1, '{');
    }
    catalog_array_put(*s, first, catalog_arg_text(argv[0]));
}

static void fn_array_agg_final(sqlite3_context *ctx)
{
    sqlite3_str **s = sqlite3_aggregate_context(ctx, 0);
    if (!s || !*s) {
        if (!sqlite3_user_data(ctx))
            sqlite3_result_text(ctx, "{}", 2, SQLITE_STATIC);
        return;
    }
    sqlite3_str_appendchar(*s, 1, '}');
    catalog_result_str(ctx, *s);
}

/* current_schemas(include_implicit) */
static void fn_current_schemas(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    bool implicit = sqlite3_value_int(argv[0]) != 0;
    sqlite3_result_text(ctx, implicit ? "{pg_catalog,public}" : "{public}", -1, SQLITE_STATIC);
}

/* format_type(type_oid, typmod) */
static void fn_format_type(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    char buf[128];
    int32_t typmod =
        sqlite3_value_type(argv[1]) == SQLITE_NULL ? -1 : (int32_t)sqlite3_value_int(argv[1]);
    catalog_format_type((uint32_t)sqlite3_value_int64(argv[0]), typmod, buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

/* quote_ident(name) */
static void fn_quote_ident(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *s = catalog_arg_text(argv[0]);
    if (!s)
        return;
    char *q = catalog_quote_ident(s);
    if (!q)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_text(ctx, q, -1, sqlite3_free);
}

/* The first argument, unchanged: pg_get_expr(text, relid [, pretty]) (the
 * catalog stores expressions as PostgreSQL prints them). */
static void fn_first(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_value(ctx, argv[0]);
}

static void fn_null(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_null(ctx);
}

/* has_*_privilege(...), pg_*_is_visible(...): true */
static void fn_true(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int(ctx, 1);
}

static void fn_false(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int(ctx, 0);
}

static void fn_zero_size(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int64(ctx, 0);
}

/* pg_encoding_to_char(6) */
static void fn_encoding_to_char(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_text(ctx, sqlite3_value_int(argv[0]) == 6 ? "UTF8" : "", -1, SQLITE_STATIC);
}

/* pg_size_pretty(bigint) */
static void fn_size_pretty(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    int64_t v = sqlite3_value_int64(argv[0]);
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
    size_t u = 0;
    int64_t limit = 10 * 1024;
    while (u + 1 < sizeof(units) / sizeof(units[0]) && (v < 0 ? -v : v) >= limit) {
        v = (v + (v < 0 ? -512 : 512)) / 1024; /* half rounds away from zero */
        u++;
        limit = 20 * 1024 / 2;
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "%lld %s", (long long)v, units[u]);
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

/* dm_catalog_oid(name) */
static void fn_catalog_oid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *s = catalog_arg_text(argv[0]);
    if (s)
        sqlite3_result_int64(ctx, catalog_oid(s));
}

/* dm_catalog_type(decl) and dm_catalog_typmod(decl): the column's type from
 * its declaration, as result columns get it (sqlite_types.c) */
static void fn_catalog_type(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite_pg_type t;
    const char *decl = catalog_arg_text(argv[0]);
    sqlite_type_from_decltype(decl && *decl ? decl : NULL, &t);
    if (sqlite3_user_data(ctx))
        sqlite3_result_int(ctx, t.typmod);
    else
        sqlite3_result_int64(ctx, t.oid);
}

/* dm_catalog_default(dflt_value, type_oid) */
static void fn_catalog_default(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *d = catalog_arg_text(argv[0]);
    if (!d)
        return;
    char buf[600];
    catalog_default_expr(d, (uint32_t)sqlite3_value_int64(argv[1]), buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

typedef struct catalog_function {
    const char *name;
    int nargs;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
    void *arg; /* sqlite3_user_data */
} catalog_function;

#define CATALOG_FN_FLAGS (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)

static const catalog_function catalog_functions[] = {
    {"array_to_string", 2, fn_array_to_string, NULL},
    {"array_to_string", 3, fn_array_to_string, NULL},
    {"array_upper", 2, fn_array_upper, NULL},
    {"array_length", 2, fn_array_upper, NULL},
    {"cardinality", 1, fn_array_upper, (void *)1},
    {"array_lower", 2, fn_array_lower, NULL},
    {"array_position", 2, fn_array_position, NULL},
    {"dm_array_get", 2, fn_array_get, NULL},
    {"dm_array", -1, fn_array, NULL},
    {"current_schemas", 1, fn_current_schemas, NULL},
    {"format_type", 2, fn_format_type, NULL},
    {"quote_ident", 1, fn_quote_ident, NULL},
    {"pg_get_expr", 2, fn_first, NULL},
    {"pg_get_expr", 3, fn_first, NULL},
    {"pg_encoding_to_char", 1, fn_encoding_to_char, NULL},
    {"obj_description", 1, fn_null, NULL},
    {"obj_description", 2, fn_null, NULL},
    {"col_description", 2, fn_null, NULL},
    {"shobj_description", 2, fn_null, NULL},
    {"pg_get_triggerdef", 1, fn_null, NULL},
    {"pg_get_triggerdef", 2, fn_null, NULL},
    {"pg_get_statisticsobjdef_columns", 1, fn_null, NULL},
    {"pg_partition_ancestors", 1, fn_null, NULL},
    {"pg_get_viewdef", 1, fn_null, NULL},
    {"pg_get_viewdef", 2, fn_null, NULL},
    {"pg_relation_is_publishable", 1, fn_false, NULL},
    {"pg_is_in_recovery", 0, fn_false, NULL},
    {"has_table_privilege", 2, fn_true, NULL},
    {"has_table_privilege", 3, fn_true, NULL},
    {"has_schema_privilege", 2, fn_true, NULL},
    {"has_schema_privilege", 3, fn_true, NULL},
    {"has_database_privilege", 2, fn_true, NULL},
    {"has_database_privilege", 3, fn_true, NULL},
    {"has_column_privilege", 3, fn_true, NULL},
    {"has_column_privilege", 4, fn_true, NULL},
    {"pg_table_is_visible", 1, fn_true, NULL},
    {"pg_type_is_visible", 1, fn_true, NULL},
    {"pg_function_is_visible", 1, fn_true, NULL},
    {"pg_table_size", 1, fn_zero_size, NULL},
    {"pg_relation_size", 1, fn_zero_size, NULL},
    {"pg_total_relation_size", 1, fn_zero_size, NULL},
    {"pg_indexes_size", 1, fn_zero_size, NULL},
    {"pg_size_pretty", 1, fn_size_pretty, NULL},
    {"dm_catalog_oid", 1, fn_catalog_oid, NULL},
    {"dm_catalog_type", 1, fn_catalog_type, NULL},
    {"dm_catalog_typmod", 1, fn_catalog_type, (void *)1},
    {"dm_catalog_default", 2, fn_catalog_default, NULL},
};

/* Functions the translator rewrites into subqueries on the catalog tables
 * (translate.c), which also need the tables. */
static const char *const catalog_rewritten[] = {
    "pg_get_userbyid", "pg_get_indexdef", "pg_get_constraintdef", "generate_series",
    "unnest",          "current_user",    "session_user",
};

bool catalog_is_function(const char *name)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(catalog_functions) / sizeof(catalog_functions[0]); i++)
        if (strcmp(catalog_functions[i].name, name) == 0)
            return true;
    for (size_t i = 0; i < sizeof(catalog_rewritten) / sizeof(catalog_rewritten[0]); i++)
        if (strcmp(catalog_rewritten[i], name) == 0)
            return true;
    return false;
}

/* ---- generate_series(start, stop [, step]) and dm_unnest(array) ----
 *
 * Eponymous virtual tables (table-valued functions).  Column 0 is the value;
 * the hidden columns after it are the arguments, which SQLite passes as
 * equality constraints.  pAux tells the two apart: NULL for generate_series,
 * non-NULL for dm_unnest.  An unnest cursor holds the elements, a series
 * cursor only its position. */

typedef struct catalog_srf_cursor {
    sqlite3_vtab_cursor base;
    bool unnest;
    int64_t value, stop, step; /* generate_series */
    char **elems;              /* dm_unnest: elements (NULL for NULL) */
    int64_t nelems, pos;
    bool eof;
} catalog_srf_cursor;

typedef struct catalog_srf_vtab {
    sqlite3_vtab base;
    bool unnest;
} catalog_srf_vtab;

static int srf_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **err)
{
    (void)argc, (void)argv, (void)err;
    int rc = sqlite3_declare_vtab(db, aux ? "CREATE TABLE x(value, arr HIDDEN)"
                                          : "CREATE TABLE x(value, start HIDDEN, stop HIDDEN, "
                                            "step HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    catalog_srf_vtab *v = sqlite3_malloc(sizeof(*v));
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof(*v));
    v->unnest = aux != NULL;
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    *out = &v->base;
    return SQLITE_OK;
}

static int srf_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

/* idxNum: bit i set when argument column i+1 is constrained, in order. */
static int srf_best_index(sqlite3_vtab *tab, sqlite3_index_info *info)
{
    catalog_srf_vtab *v = (catalog_srf_vtab *)tab;
    int nargs = v->unnest ? 1 : 3;
    int where[3] = {-1, -1, -1};
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *k = &info->aConstraint[i];
        if (k->iColumn < 1 || k->iColumn > nargs || k->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        if (!k->usable)
            return SQLITE_CONSTRAINT;
        where[k->iColumn - 1] = i;
    }
    int argv_index = 1, mask = 0;
    for (int c = 0; c < nargs; c++) {
        if (where[c] < 0)
            continue;
        info->aConstraintUsage[where[c]].argvIndex = argv_index++;
        info->aConstraintUsage[where[c]].omit = 1;
        mask |= 1 << c;
    }
    if (!(mask & 1) || (!v->unnest && !(mask & 2))) {
        sqlite3_free(tab->zErrMsg);
        tab->zErrMsg = sqlite3_mprintf(v->unnest ? "unnest needs an array"
                                                 : "generate_series needs a start and a stop");
        return SQLITE_ERROR;
    }
    info->idxNum = mask;
    info->estimatedCost = 10;
    info->estimatedRows = 10;
    return SQLITE_OK;
}

static int srf_open(sqlite3_vtab *tab, sqlite3_vtab_cursor **out)
{
    catalog_srf_cursor *c = sqlite3_malloc(sizeof(*c));
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof(*c));
    c->unnest = ((catalog_srf_vtab *)tab)->unnest;
    *out = &c->base;
    return SQLITE_OK;
}

static void srf_clear(catalog_srf_cursor *c)
{
    for (int64_t i = 0; i < c->nelems; i++)
        sqlite3_free(c->elems[i]);
    sqlite3_free(c->elems);
    c->elems = NULL;
    c->nelems = c->pos = 0;
}

static int srf_close(sqlite3_vtab_cursor *cur)
{
    srf_clear((catalog_srf_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

typedef struct srf_collect {
    catalog_srf_cursor *c;
    bool oom;
} srf_collect;

static bool srf_collect_elem(void *arg, const char *e, size_t len)
{
    srf_collect *s = arg;
    char **grown = sqlite3_realloc64(s->c->elems, (uint64_t)(s->c->nelems + 1) * sizeof(char *));
    if (!grown) {
        s->oom = true;
        return false;
    }
    s->c->elems = grown;
    char *copy = NULL;
    if (e) {
        copy = sqlite3_malloc64(len + 1);
        if (!copy) {
            s->oom = true;
            return false;
        }
        memcpy(copy, e, len);
        copy[len] = '\0';
    }
    s->c->elems[s->c->nelems++] = copy;
    return true;
}

static int srf_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                      sqlite3_value **argv)
{
    (void)idx_str;
    catalog_srf_cursor *c = (catalog_srf_cursor *)cur;
    srf_clear(c);
    c->eof = true;
    if (c->unnest) {
        const char *a = argc > 0 ? catalog_arg_text(argv[0]) : NULL;
        srf_collect s = {.c = c};
        if (a)
            catalog_array_each(a, srf_collect_elem, &s);
        if (s.oom)
            return SQLITE_NOMEM;
        c->eof = c->nelems == 0;
        return SQLITE_OK;
    }
    if (argc < 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL ||
        sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return SQLITE_OK;
    c->value = sqlite3_value_int64(argv[0]);
    c->stop = sqlite3_value_int64(argv[1]);
    c->step = (idx_num & 4) && argc > 2 ? sqlite3_value_int64(argv[2]) : 1;
    if (c->step == 0) {
        sqlite3_free(cur->pVtab->zErrMsg);
        cur->pVtab->zErrMsg = sqlite3_mprintf("[22023] step size cannot equal zero");
        return SQLITE_ERROR;
    }
    c->eof = c->step > 0 ? c->value > c->stop : c->value < c->stop;
    return SQLITE_OK;
}

static int srf_next(sqlite3_vtab_cursor *cur)
{
    catalog_srf_cursor *c = (catalog_srf_cursor *)cur;
    if (c->unnest) {
        c->eof = ++c->pos >= c->nelems;
        return SQLITE_OK;
    }
    if ((c->step > 0 && c->value > c->stop - c->step) ||
        (c->step < 0 && c->value < c->stop - c->step))
        c->eof = true;
    else
        c->value += c->step;
    return SQLITE_OK;
}

static int srf_eof(sqlite3_vtab_cursor *cur)
{
    return ((catalog_srf_cursor *)cur)->eof;
}

static int srf_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    catalog_srf_cursor *c = (catalog_srf_cursor *)cur;
    if (col != 0)
        return SQLITE_OK; /* arguments read back: NULL */
    if (!c->unnest)
        sqlite3_result_int64(ctx, c->value);
    else if (c->elems[c->pos])
        sqlite3_result_text(ctx, c->elems[c->pos], -1, SQLITE_TRANSIENT);
    return SQLITE_OK;
}

static int srf_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    catalog_srf_cursor *c = (catalog_srf_cursor *)cur;
    *rowid = c->unnest ? c->pos + 1 : c->value;
    return SQLITE_OK;
}

static const sqlite3_module catalog_srf_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = srf_connect,
    .xBestIndex = srf_best_index,
    .xDisconnect = srf_disconnect,
    .xDestroy = srf_disconnect,
    .xOpen = srf_open,
    .xClose = srf_close,
    .xFilter = srf_filter,
    .xNext = srf_next,
    .xEof = srf_eof,
    .xColumn = srf_column,
    .xRowid = srf_rowid,
};

/* ---- rows ---- */

/* The role that owns the database and its objects (see the top). */
#define CATALOG_OWNER                                                                              \
    "coalesce((SELECT oid FROM temp.pg_authid WHERE rolname = current_database()), 10)"
/* The relations of the schema that PostgreSQL would show. */
#define CATALOG_USER_RELATION                                                                      \
    "m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT LIKE '\\_dormouse%' ESCAPE '\\'"

/* Rows every database has; run once, after the tables are created. */
static const char *const catalog_fixed_sql[] = {
    "INSERT INTO temp.pg_namespace VALUES (11, 'pg_catalog', 10, NULL), (99, 'pg_toast', 10, "
    "NULL), (2200, 'public', 6171, NULL), (13212, 'information_schema', 10, NULL)",
    "INSERT INTO temp.pg_am VALUES (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', "
    "'bthandler', 'i'), (405, 'hash', 'hashhandler', 'i')",
    "INSERT INTO temp.pg_tablespace VALUES (1663, 'pg_default', 10, NULL, NULL), (1664, "
    "'pg_global', 10, NULL, NULL)",
    "INSERT INTO temp.pg_collation VALUES (100, 'default', 11, 10, 'd', 1, -1, NULL, NULL, NULL, "
    "NULL), (950, 'C', 11, 10, 'c', 1, -1, 'C', 'C', NULL, NULL), (951, 'POSIX', 11, 10, 'c', 1, "
    "-1, 'POSIX', 'POSIX', NULL, NULL)",
    "INSERT INTO temp.pg_authid VALUES (10, 'postgres', 1, 1, 1, 1, 1, 1, 1, -1, NULL, NULL), "
    "(6171, 'pg_database_owner', 0, 1, 0, 0, 0, 0, 0, -1, NULL, NULL)",
    "INSERT INTO temp.pg_authid SELECT dm_catalog_oid(current_database()), current_database(), 0, "
    "1, 0, 0, 1, 0, 0, -1, NULL, NULL WHERE current_database() NOT IN ('postgres', "
    "'pg_database_owner')",
    /* the connected role, when it is not the database's owner */
    "INSERT INTO temp.pg_authid SELECT dm_catalog_oid(dm_current_user()), dm_current_user(), 0, "
    "1, 0, 0, 1, 0, 0, -1, NULL, NULL WHERE dm_current_user() NOT IN (SELECT rolname FROM "
    "temp.pg_authid)",
    "INSERT INTO temp.pg_roles SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, "
    "rolcanlogin, rolreplication, rolconnlimit, '********', rolvaliduntil, rolbypassrls, NULL, oid "
    "FROM temp.pg_authid",
    "INSERT INTO temp.pg_user SELECT rolname, oid, rolcreatedb, rolsuper, rolreplication, "
    "rolbypassrls, '********', rolvaliduntil, NULL FROM temp.pg_authid WHERE rolcanlogin",
    "INSERT INTO temp.pg_database VALUES (16384, current_database(), " CATALOG_OWNER
    ", 6, 'c', 0, 1, -1, 716, 1, 1663, 'C', 'C', NULL, NULL, NULL)",
    "INSERT INTO temp.pg_settings (name, setting, category, context, vartype, source, boot_val, "
    "reset_val, pending_restart) SELECT n.column1, current_setting(n.column1), 'Dormouse', 'user', "
    "'string', 'default', current_setting(n.column1), current_setting(n.column1), 0 FROM (VALUES "
    "('server_version'), ('server_version_num'), ('server_encoding'), ('client_encoding'), "
    "('DateStyle'), ('IntervalStyle'), ('TimeZone'), ('search_path'), "
    "('standard_conforming_strings'), ('integer_datetimes'), ('max_identifier_length'), "
    "('application_name'), ('transaction_isolation'), ('default_transaction_isolation'), "
    "('extra_float_digits'), ('statement_timeout'), ('lock_timeout')) AS n",
    "INSERT INTO temp._dm_names SELECT 'u', oid, rolname FROM temp.pg_authid",
    "INSERT INTO temp._dm_names SELECT 'n', oid, quote_ident(nspname) FROM temp.pg_namespace",
    "INSERT INTO temp._dm_names SELECT 't', oid, format_type(oid, NULL) FROM temp.pg_type",
    "INSERT INTO temp._dm_is_schemata SELECT current_database(), n.nspname, a.rolname, NULL, "
    "NULL, NULL, NULL FROM temp.pg_namespace n JOIN temp.pg_authid a ON a.oid = n.nspowner",
};

/* Rows made from the database's schema; rerun when it changes. */
static const char *const catalog_schema_sql[] = {
    "DELETE FROM temp.pg_class",
    "DELETE FROM temp.pg_attribute",
    "DELETE FROM temp.pg_attrdef",
    "DELETE FROM temp.pg_index",
    "DELETE FROM temp.pg_constraint",
    "DELETE FROM temp._dm_defs",
    "DELETE FROM temp._dm_names WHERE _dm_kind = 'r'",
    "DELETE FROM temp._dm_idx",
    "DELETE FROM temp._dm_col",
    "DELETE FROM temp._dm_fk",
    "DELETE FROM temp._dm_is_tables",
    "DELETE FROM temp._dm_is_columns",
    /* columns: a SERIAL or identity column is SQLite's INTEGER PRIMARY KEY
     * AUTOINCREMENT, its PostgreSQL type and identity kind recorded apart
     * (sqlite_coltypes.h) */
    "INSERT INTO temp._dm_col SELECT m.name, p.cid + 1, p.name, p.type, dm_catalog_type(p.type), "
    "dm_catalog_typmod(p.type), p.\"notnull\" OR p.pk > 0, p.dflt_value, p.pk, p.pk = 1 AND "
    "upper(p.type) = 'INTEGER' AND m.sql LIKE '%AUTOINCREMENT%' AND (SELECT count(*) FROM "
    "pragma_table_info(m.name, 'main') q WHERE q.pk > 0) = 1, m.type = 'view', '' FROM "
    "main.sqlite_schema m, pragma_table_info(m.name, 'main') p WHERE m.type IN ('table', 'view') "
    "AND " CATALOG_USER_RELATION,
    "UPDATE temp._dm_col SET decl = dm_column_type(tbl, name, decl), ident = "
    "dm_column_identity(tbl, name) WHERE serial",
    "UPDATE temp._dm_col SET typid = dm_catalog_type(decl), typmod = dm_catalog_typmod(decl) "
    "WHERE serial",
    "INSERT INTO temp.pg_class SELECT dm_catalog_oid(m.name), m.name, 2200, 0, 0, " CATALOG_OWNER
    ", CASE m.type WHEN 'table' THEN 2 ELSE 0 END, 0, 0, 0, -1, 0, 0, 0, 0, 'p', CASE m.type WHEN "
    "'table' THEN 'r' ELSE 'v' END, (SELECT count(*) FROM temp._dm_col c WHERE c.tbl = m.name), "
    "0, m.type = 'view', 0, 0, 0, 0, 1, 'd', 0, 0, 0, 0, NULL, NULL, NULL FROM main.sqlite_schema "
    "m WHERE m.type IN ('table', 'view') AND " CATALOG_USER_RELATION,
    /* indexes: the primary key (SQLite has none for a rowid alias), then
     * UNIQUE constraints (autoindexes, named as PostgreSQL names them) and
     * CREATE INDEX */
    "INSERT INTO temp._dm_idx SELECT tbl, substr(tbl || '_pkey', 1, 63), 1, 1, 'pk', "
    "group_concat(quote_ident(name), ', '), group_concat(num, ' '), count(*) FROM (SELECT tbl, "
    "name, num FROM temp._dm_col WHERE pk > 0 AND NOT isview ORDER BY tbl, pk) GROUP BY tbl",
    "INSERT INTO temp._dm_idx SELECT m.name, CASE l.origin WHEN 'u' THEN substr(m.name || '_' || "
    "(SELECT group_concat(coalesce(i.name, 'expr'), '_') FROM pragma_index_info(l.name, 'main') "
    "i) || '_key', 1, 63) ELSE l.name END, 0, l.\"unique\", l.origin, (SELECT "
    "group_concat(coalesce(quote_ident(x.name), 'expr') || CASE WHEN x.\"desc\" THEN ' DESC' ELSE "
    "'' END, ', ') FROM pragma_index_xinfo(l.name, 'main') x WHERE x.key), (SELECT "
    "group_concat(CASE WHEN x.cid >= 0 THEN x.cid + 1 ELSE 0 END, ' ') FROM "
    "pragma_index_xinfo(l.name, 'main') x WHERE x.key), (SELECT count(*) FROM "
    "pragma_index_xinfo(l.name, 'main') x WHERE x.key) FROM main.sqlite_schema m, "
    "pragma_index_list(m.name, 'main') l WHERE m.type = 'table' AND l.origin <> 'pk' "
    "AND " CATALOG_USER_RELATION,
    "INSERT INTO temp.pg_class SELECT dm_catalog_oid(x.name), x.name, 2200, 0, 0, " CATALOG_OWNER
    ", 403, 0, 0, 0, -1, 0, 0, 0, 0, 'p', 'i', x.nkeys, 0, 0, 0, 0, 0, 0, 1, 'n', 0, 0, 0, 0, "
    "NULL, NULL, NULL FROM temp._dm_idx x",
    "UPDATE temp.pg_class SET relhasindex = 1 WHERE relkind = 'r' AND relname IN (SELECT tbl "
    "FROM temp._dm_idx)",
    "INSERT INTO temp.pg_index SELECT dm_catalog_oid(x.name), dm_catalog_oid(x.tbl), x.nkeys, "
    "x.nkeys, x.isunique, 0, x.isprimary, 0, 1, 0, 1, 0, 1, 1, 0, x.keys, NULL, NULL, NULL, NULL, "
    "NULL FROM temp._dm_idx x",
    "INSERT INTO temp._dm_defs SELECT dm_catalog_oid(x.name), 'CREATE ' || CASE WHEN x.isunique "
    "THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(x.name) || ' ON public.' || "
    "quote_ident(x.tbl) || ' USING btree (' || x.cols || ')' FROM temp._dm_idx x",
    "INSERT INTO temp.pg_constraint SELECT dm_catalog_oid(x.name || '/constraint'), x.name, 2200, "
    "CASE WHEN x.isprimary THEN 'p' ELSE 'u' END, 0, 0, 1, dm_catalog_oid(x.tbl), 0, "
    "dm_catalog_oid(x.name), 0, 0, ' ', ' ', ' ', 1, 0, 1, '{' || replace(x.keys, ' ', ',') || "
    "'}', NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM temp._dm_idx x WHERE x.origin IN ('pk', "
    "'u')",
    "INSERT INTO temp._dm_defs SELECT dm_catalog_oid(x.name || '/constraint'), CASE WHEN "
    "x.isprimary THEN 'PRIMARY KEY (' ELSE 'UNIQUE (' END || x.cols || ')' FROM temp._dm_idx x "
    "WHERE x.origin IN ('pk', 'u')",
    /* foreign keys; REFERENCES t without columns means t's primary key */
    "INSERT INTO temp._dm_fk SELECT tbl, substr(tbl || '_' || group_concat(col, '_') || '_fkey', "
    "1, 63), ref, group_concat(quote_ident(col), ', '), group_concat(quote_ident(refcol), ', '), "
    "'{' || group_concat((SELECT c.num FROM temp._dm_col c WHERE c.tbl = fk.tbl AND c.name = "
    "fk.col), ',') || '}', '{' || group_concat((SELECT c.num FROM temp._dm_col c WHERE c.tbl = "
    "fk.ref AND c.name = fk.refcol), ',') || '}', upd, del FROM (SELECT m.name AS tbl, f.id AS "
    "id, f.\"table\" AS ref, f.\"from\" AS col, coalesce(f.\"to\", (SELECT p.name FROM "
    "pragma_table_info(f.\"table\", 'main') p WHERE p.pk = f.seq + 1)) AS refcol, f.on_update AS "
    "upd, f.on_delete AS del FROM main.sqlite_schema m, pragma_foreign_key_list(m.name, 'main') f "
    "WHERE m.type = 'table' AND " CATALOG_USER_RELATION " ORDER BY m.name, f.id, f.seq) AS fk "
    "GROUP BY tbl, id",
    "INSERT INTO temp.pg_constraint SELECT dm_catalog_oid(f.name || '/constraint'), f.name, 2200, "
    "'f', 0, 0, 1, dm_catalog_oid(f.tbl), 0, dm_catalog_oid(f.ref || '_pkey'), 0, "
    "dm_catalog_oid(f.ref), CASE f.upd WHEN 'RESTRICT' THEN 'r' WHEN 'CASCADE' THEN 'c' WHEN 'SET "
    "NULL' THEN 'n' WHEN 'SET DEFAULT' THEN 'd' ELSE 'a' END, CASE f.del WHEN 'RESTRICT' THEN 'r' "
    "WHEN 'CASCADE' THEN 'c' WHEN 'SET NULL' THEN 'n' WHEN 'SET DEFAULT' THEN 'd' ELSE 'a' END, "
    "'s', 1, 0, 1, f.conkey, f.confkey, NULL, NULL, NULL, NULL, NULL, NULL FROM temp._dm_fk f",
    "INSERT INTO temp._dm_defs SELECT dm_catalog_oid(f.name || '/constraint'), 'FOREIGN KEY (' || "
    "f.cols || ') REFERENCES ' || quote_ident(f.ref) || '(' || f.refcols || ')' || CASE WHEN f.upd "
    "IN ('NO ACTION', 'NONE') THEN '' ELSE ' ON UPDATE ' || f.upd END || CASE WHEN f.del IN ('NO "
    "ACTION', 'NONE') THEN '' ELSE ' ON DELETE ' || f.del END FROM temp._dm_fk f",
    /* foreign keys are triggers in PostgreSQL, on both tables */
    "UPDATE temp.pg_class SET relhastriggers = 1 WHERE relkind = 'r' AND relname IN (SELECT tbl "
    "FROM temp._dm_fk UNION SELECT ref FROM temp._dm_fk)",
    /* columns and defaults */
    "INSERT INTO temp.pg_attribute SELECT dm_catalog_oid(c.tbl), c.name, c.typid, -1, t.typlen, "
    "c.num, 0, -1, c.typmod, t.typbyval, t.typalign, t.typstorage, '', c.nn, c.dflt IS NOT "
    "NULL OR (c.serial AND c.ident = ''), 0, c.ident, '', 0, 1, 0, t.typcollation, NULL, NULL, "
    "NULL, NULL FROM "
    "temp._dm_col c JOIN temp.pg_type t ON t.oid = c.typid",
    "INSERT INTO temp.pg_attrdef SELECT dm_catalog_oid(c.tbl || '.' || c.name || '/default'), "
    "dm_catalog_oid(c.tbl), c.num, CASE WHEN c.serial THEN 'nextval(' || "
    "quote(quote_ident(substr(c.tbl || '_' || c.name || '_seq', 1, 63))) || '::regclass)' ELSE "
    "dm_catalog_default(c.dflt, c.typid) END FROM temp._dm_col c WHERE c.dflt IS NOT NULL OR "
    "(c.serial AND c.ident = '')",
    "INSERT OR IGNORE INTO temp._dm_names SELECT 'r', oid, quote_ident(relname) FROM "
    "temp.pg_class",
    /* information_schema */
    "INSERT INTO temp._dm_is_tables SELECT current_database(), 'public', relname, CASE relkind "
    "WHEN 'r' THEN 'BASE TABLE' ELSE 'VIEW' END, NULL, NULL, NULL, NULL, NULL, CASE relkind WHEN "
    "'r' THEN 'YES' ELSE 'NO' END, 'NO', NULL FROM temp.pg_class WHERE relkind IN ('r', 'v')",
    "INSERT INTO temp._dm_is_columns SELECT current_database(), 'public', c.tbl, c.name, c.num, "
    "d.adbin, CASE WHEN c.nn THEN 'NO' ELSE 'YES' END, CASE WHEN t.typcategory = 'A' THEN "
    "'ARRAY' WHEN c.typid = 1042 THEN 'character' ELSE format_type(c.typid, NULL) END, CASE WHEN "
    "c.typid IN (1042, 1043) AND c.typmod >= 4 THEN c.typmod - 4 END, CASE WHEN c.typid IN (25, "
    "1042, 1043) THEN 1073741824 END, CASE c.typid WHEN 21 THEN 16 WHEN 23 THEN 32 WHEN 20 THEN "
    "64 WHEN 700 THEN 24 WHEN 701 THEN 53 WHEN 1700 THEN CASE WHEN c.typmod >= 4 THEN ((c.typmod "
    "- 4) >> 16) & 65535 END END, CASE WHEN c.typid IN (20, 21, 23, 700, 701) THEN 2 WHEN c.typid "
    "= 1700 THEN 10 END, CASE WHEN c.typid IN (20, 21, 23) THEN 0 WHEN c.typid = 1700 AND "
    "c.typmod >= 4 THEN (c.typmod - 4) & 65535 END, CASE WHEN c.typid = 1082 THEN 0 WHEN c.typid "
    "IN (1083, 1114, 1184, 1266) THEN CASE WHEN c.typmod >= 0 THEN c.typmod ELSE 6 END END, "
    "current_database(), 'pg_catalog', t.typname, 'NO', 'NEVER', CASE WHEN c.isview THEN 'NO' "
    "ELSE 'YES' END FROM temp._dm_col c JOIN temp.pg_type t ON t.oid = c.typid LEFT JOIN "
    "temp.pg_attrdef d ON d.adrelid = dm_catalog_oid(c.tbl) AND d.adnum = c.num",
};

/* ---- creating and refreshing ---- */

static int catalog_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int catalog_register_aggregates(sqlite3 *db)
{
    int rc = sqlite3_create_function_v2(db, "dm_array_agg", 1, SQLITE_UTF8 | SQLITE_INNOCUOUS, NULL,
                                        NULL, fn_array_agg_step, fn_array_agg_final, NULL);
    if (rc != SQLITE_OK)
        return rc;
    static char or_null; /* any non-NULL user data */
    return sqlite3_create_function_v2(db, "dm_array_agg_or_null", 1,
                                      SQLITE_UTF8 | SQLITE_INNOCUOUS, &or_null, NULL,
                                      fn_array_agg_step, fn_array_agg_final, NULL);
}

static int catalog_register(sqlite3 *db)
{
    for (size_t i = 0; i < sizeof(catalog_functions) / sizeof(catalog_functions[0]); i++) {
        const catalog_function *f = &catalog_functions[i];
        int rc = sqlite3_create_function_v2(db, f->name, f->nargs, CATALOG_FN_FLAGS, f->arg, f->fn,
                                            NULL, NULL, NULL);
        if (rc == SQLITE_NOMEM)
            return rc;
    }
    int rc = catalog_register_aggregates(db);
    if (rc == SQLITE_NOMEM)
        return rc;
    /* a second registration (after a rollback dropped the tables) keeps the
     * modules already there */
    rc = sqlite3_create_module_v2(db, "generate_series", &catalog_srf_module, NULL, NULL);
    if (rc == SQLITE_NOMEM)
        return rc;
    rc = sqlite3_create_module_v2(db, "dm_unnest", &catalog_srf_module, (void *)1, NULL);
    return rc == SQLITE_NOMEM ? rc : SQLITE_OK;
}

/* pg_type: each built-in type and its array type. */
static int catalog_insert_types(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO temp.pg_type VALUES (?1, ?2, 11, 10, ?3, ?4, ?5, ?6, ?7, 1, ',', 0, ?8, ?9, "
        "?10, ?11, ?12, ?13, ?14, '-', '-', '-', ?15, ?16, 0, 0, -1, 0, ?17, NULL, NULL, NULL)",
        -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < CATALOG_NTYPES; i++) {
        const catalog_type *t = &catalog_types[i];
        for (int arr = 0; arr < 2 && rc == SQLITE_OK; arr++) {
            if (arr && !t->array)
                break;
            char name[72], io[4][40];
            static const char *const dirs[] = {"in", "out", "recv", "send"};
            for (int d = 0; d < 4; d++) {
                if (arr)
                    snprintf(io[d], sizeof(io[d]), "array_%s", dirs[d]);
                else
                    snprintf(io[d], sizeof(io[d]), "%s%s", t->io, dirs[d]);
            }
            snprintf(name, sizeof(name), "%s%s", arr ? "_" : "", t->name);
            char type[2] = {arr ? 'b' : t->type, 0}, cat[2] = {arr ? 'A' : t->category, 0};
            char align[2] = {arr ? (t->align == 'd' ? 'd' : 'i') : t->align, 0};
            char storage[2] = {arr ? 'x' : t->storage, 0};
            sqlite3_bind_int64(st, 1, arr ? t->array : t->oid);
            sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(st, 3, arr ? -1 : t->len);
            sqlite3_bind_int(st, 4, arr ? 0 : t->byval);
            sqlite3_bind_text(st, 5, type, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 6, cat, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(st, 7, arr ? 0 : t->preferred);
            sqlite3_bind_text(st, 8, arr || t->elem ? "array_subscript_handler" : "-", -1,
                              SQLITE_STATIC);
            sqlite3_bind_int64(st, 9, arr ? t->oid : t->elem);
            sqlite3_bind_int64(st, 10, arr ? 0 : t->array);
            for (int d = 0; d < 4; d++)
                sqlite3_bind_text(st, 11 + d, io[d], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 15, align, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 16, storage, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 17, t->collation);
            rc = sqlite3_step(st);
            rc = rc == SQLITE_DONE ? sqlite3_reset(st) : sqlite3_errcode(db);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int catalog_create(sqlite3 *db)
{
    int rc = catalog_register(db);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof(catalog_tables) / sizeof(catalog_tables[0]);
         i++) {
        /* WITHOUT ROWID: no implicit "oid" column to capture references */
        char *sql = sqlite3_mprintf(
            "CREATE TEMP TABLE \"%w\" (%s)%s", catalog_tables[i].name, catalog_tables[i].columns,
            strstr(catalog_tables[i].columns, "PRIMARY KEY") ? " WITHOUT ROWID" : "");
        rc = sql ? catalog_exec(db, sql) : SQLITE_NOMEM;
        sqlite3_free(sql);
    }
    if (rc == SQLITE_OK)
        rc = catalog_insert_types(db);
    for (size_t i = 0;
         rc == SQLITE_OK && i < sizeof(catalog_fixed_sql) / sizeof(catalog_fixed_sql[0]); i++)
        rc = catalog_exec(db, catalog_fixed_sql[i]);
    if (rc == SQLITE_OK)
        rc = catalog_exec(db, "INSERT INTO temp._dm_catalog VALUES (-1)");
    return rc;
}

static int catalog_refresh(sqlite3 *db, int64_t version)
{
    int rc = SQLITE_OK;
    for (size_t i = 0;
         rc == SQLITE_OK && i < sizeof(catalog_schema_sql) / sizeof(catalog_schema_sql[0]); i++)
        rc = catalog_exec(db, catalog_schema_sql[i]);
    if (rc == SQLITE_OK) {
        char sql[64];
        snprintf(sql, sizeof(sql), "UPDATE temp._dm_catalog SET version = %lld",
                 (long long)version);
        rc = catalog_exec(db, sql);
    }
    return rc;
}

/* One integer from a query; false if it fails or has no row. */
static bool catalog_query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    bool ok =
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
    if (ok)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return ok;
}

int catalog_ensure(sqlite3 *db, char *err, size_t errlen)
{
    int64_t have = -2, version = -1;
    bool exists = catalog_query_int(db, "SELECT version FROM temp._dm_catalog", &have);
    if (!catalog_query_int(db, "PRAGMA main.schema_version", &version)) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return sqlite3_errcode(db) ? sqlite3_errcode(db) : SQLITE_ERROR;
    }
    if (exists && have == version)
        return SQLITE_OK;
    int rc = catalog_exec(db, "SAVEPOINT dm_catalog");
    if (rc == SQLITE_OK && !exists)
        rc = catalog_create(db);
    if (rc == SQLITE_OK)
        rc = catalog_refresh(db, version);
    if (rc == SQLITE_OK)
        rc = catalog_exec(db, "RELEASE dm_catalog");
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot build the catalog: %s", sqlite3_errmsg(db));
        catalog_exec(db, "ROLLBACK TO dm_catalog");
        catalog_exec(db, "RELEASE dm_catalog");
    }
    return rc;
}
