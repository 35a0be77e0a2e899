/*
 * types.c: PostgreSQL's names for the built-in type OIDs in wire.h, as its
 * error messages spell them (format_type of the type without modifiers).
 */
#include "dormouse/wire.h"

const char *wire_type_name(uint32_t oid)
{
    switch (oid) {
    case WIRE_OID_BOOL:
        return "boolean";
    case WIRE_OID_BYTEA:
        return "bytea";
    case WIRE_OID_INT2:
        return "smallint";
    case WIRE_OID_INT4:
        return "integer";
    case WIRE_OID_INT8:
        return "bigint";
    case WIRE_OID_OID:
        return "oid";
    case WIRE_OID_FLOAT4:
        return "real";
    case WIRE_OID_FLOAT8:
        return "double precision";
    case WIRE_OID_NUMERIC:
        return "numeric";
    case WIRE_OID_DATE:
        return "date";
    case WIRE_OID_TIME:
        return "time without time zone";
    case WIRE_OID_TIMETZ:
        return "time with time zone";
    case WIRE_OID_TIMESTAMP:
        return "timestamp without time zone";
    case WIRE_OID_TIMESTAMPTZ:
        return "timestamp with time zone";
    case WIRE_OID_INTERVAL:
        return "interval";
    case WIRE_OID_UUID:
        return "uuid";
    case WIRE_OID_JSON:
        return "json";
    case WIRE_OID_JSONB:
        return "jsonb";
    case WIRE_OID_VARCHAR:
        return "character varying";
    case WIRE_OID_BPCHAR:
        return "character";
    case WIRE_OID_NAME:
        return "name";
    case WIRE_OID_TEXT:
        return "text";
    case WIRE_OID_UNKNOWN:
        return "unknown";
    }
    return "unknown";
}
