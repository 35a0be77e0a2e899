#!/usr/bin/env bash
# test_drivers_txpool: the driver matrix of test_drivers.sh through Dormouse
# in front of a real PostgreSQL in transaction pooling mode (pool_mode =
# transaction, default_pool_size = 2, max_prepared_statements = 200), with
# far more clients than server connections:
#
#   - psql, libpq and pgbench as in test_drivers.sh;
#   - every driver program (psycopg2, psycopg 3, asyncpg, node-postgres,
#     postgres.js, pgjdbc) twice at once in its database, with the
#     expectations it has against PostgreSQL itself;
#   - tests/drivers/*/*stress*: 8 clients per driver (asyncpg, psycopg 3,
#     node-postgres, postgres.js, pgjdbc) in a database of their own, each
#     preparing statements under the names every other client uses (with
#     other texts and types) and executing them in autocommit, in
#     transactions and around errors, through the driver's statement cache
#     (eviction: Close, DEALLOCATE, DEALLOCATE ALL); no 26000 or 42P05, and
#     never another client's result;
#   - pg_stat_activity sampled meanwhile: never more than 2 server
#     connections per database.
#
# DM_E2E_TARGET=postgres runs the same programs against PostgreSQL directly
# (validating their expectations); DM_DRIVERS_LOG_LEVEL=debug makes Dormouse
# log at debug level (printed on failure).  Gaps on record:
# tests/drivers/known_failures_txpool.txt.
DM_DRIVERS_MODE=txpool
source "$(dirname "${BASH_SOURCE[0]}")/test_drivers.sh"
