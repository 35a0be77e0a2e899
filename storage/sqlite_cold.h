/*
 * sqlite_cold.c: the cold tier (cold_dir) of paused SQLite databases.
 * Called on a worker with the database's lock held and none of its
 * connections open.
 */
#ifndef DORMOUSE_SQLITE_COLD_H
#define DORMOUSE_SQLITE_COLD_H

#include <stdbool.h>
#include <stddef.h>

#include "storage_internal.h"

/* Moves db's file to cold_dir with its checksum (no cold_dir: nothing).
 * False with a message when the file stays where it is. */
bool sqlite_cold_freeze(storage_db *db, char *err, size_t errlen);

enum {
    SQLITE_COLD_OK = 0,  /* the file is in data_dir (or was never created) */
    SQLITE_COLD_DAMAGED, /* its cold copy does not match its checksum: refused */
    SQLITE_COLD_IO,      /* it could not be read or moved back */
};
/* Brings db's file back from cold_dir, checking it first. */
int sqlite_cold_thaw(storage_db *db, char *err, size_t errlen);

#endif
