/*
 * The cold tier (cold_dir): a paused SQLite database's file moves to
 * cold_dir with an xxHash checksum beside it, and moves back, checked, when
 * the database is opened again.  A cold file whose checksum does not match
 * is reported and refused, never served.
 *
 * Both moves run on a worker, under the database's lock, and only when no
 * connection of the database is open: the freeze after the last CLOSE of a
 * pausing database, the thaw before the first OPEN.  Crash safety: the
 * checksum is written (and synced) before the file moves, and a move is a
 * rename (or, across file systems, a synced copy before the original goes),
 * so at any moment the file exists whole in one place or the other; when it
 * exists in both (a copy interrupted), the file in data_dir wins and the
 * cold copy is dropped.
 *
 *   cold_dir/NAME.db         the file
 *   cold_dir/NAME.db.xxh3    "<32 hex digits of XXH3-128> <size>\n"
 */
#include "sqlite_cold.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define COLD_CHUNK (256u * 1024u)

static bool cold_exists(const char *path, off_t *size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    if (size)
        *size = st.st_size;
    return true;
}

static void cold_sync_dir(const char *file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", file);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    int fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* XXH3-128 of a file as 32 hex digits; false with errno. */
static bool cold_hash(const char *path, char out[33], off_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    XXH3_state_t *st = XXH3_createState();
    uint8_t *buf = malloc(COLD_CHUNK);
    bool ok = st && buf && XXH3_128bits_reset(st) == XXH_OK;
    off_t total = 0;
    while (ok) {
        ssize_t n = read(fd, buf, COLD_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ok = false;
            break;
        }
        if (n == 0)
            break;
        total += n;
        ok = XXH3_128bits_update(st, buf, (size_t)n) == XXH_OK;
    }
    if (ok) {
        XXH128_hash_t h = XXH3_128bits_digest(st);
        snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, (uint64_t)h.high64, (uint64_t)h.low64);
        *size = total;
    }
    int saved = errno;
    free(buf);
    XXH3_freeState(st);
    close(fd);
    errno = saved;
    return ok;
}

/* Copies src to dst (new, synced); false with errno. */
static bool cold_copy(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return false;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint8_t *buf = malloc(COLD_CHUNK);
    bool ok = out >= 0 && buf;
    while (ok) {
        ssize_t n = read(in, buf, COLD_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        for (ssize_t off = 0; ok && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            ok = w > 0;
            off += w > 0 ? w : 0;
        }
    }
    if (ok)
        ok = fsync(out) == 0;
    int saved = errno;
    free(buf);
    close(in);
    if (out >= 0)
        close(out);
    if (!ok)
        unlink(dst);
    errno = saved;
    return ok;
}

/* Moves src to dst: a rename, or a synced copy then an unlink. */
static bool cold_move(const char *src, const char *dst)
{
    if (rename(src, dst) == 0) {
        cold_sync_dir(dst);
        cold_sync_dir(src);
        return true;
    }
    if (errno != EXDEV)
        return false;
    if (!cold_copy(src, dst))
        return false;
    cold_sync_dir(dst);
    if (unlink(src) != 0)
        return false;
    cold_sync_dir(src);
    return true;
}

static void cold_paths(const storage_db *db, char *cold, size_t coldlen, char *sum, size_t sumlen)
{
    snprintf(cold, coldlen, "%s/%s.db", db->engine->opt.cold_dir, db->name);
    snprintf(sum, sumlen, "%s/%s.db.xxh3", db->engine->opt.cold_dir, db->name);
}

bool sqlite_cold_freeze(storage_db *db, char *err, size_t errlen)
{
    char cold[PATH_MAX], sum[PATH_MAX], tmp[PATH_MAX + 8], side[PATH_MAX + 8];
    if (!db->engine->opt.cold_dir || !db->engine->opt.cold_dir[0])
        return true;
    cold_paths(db, cold, sizeof(cold), sum, sizeof(sum));
    if (!cold_exists(db->path, NULL))
        return true; /* never created, or cold already */
    /* a WAL or shared-memory file left means the last close did not
     * checkpoint (another process has it open?): the file stays */
    for (int i = 0; i < 2; i++) {
        off_t size = 0;
        snprintf(side, sizeof(side), "%s%s", db->path, i ? "-shm" : "-wal");
        if (cold_exists(side, &size) && (i == 1 || size > 0)) {
            snprintf(err, errlen, "%s exists: the database stays in data_dir", side);
            return false;
        }
        if (i == 0 && cold_exists(side, NULL))
            unlink(side); /* an empty WAL */
    }
    char hex[33];
    off_t size = 0;
    if (!cold_hash(db->path, hex, &size)) {
        snprintf(err, errlen, "cannot read %s: %s", db->path, strerror(errno));
        return false;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", sum);
    FILE *f = fopen(tmp, "we");
    bool ok = f && fprintf(f, "%s %lld\n", hex, (long long)size) > 0 && fflush(f) == 0 &&
              fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, sum) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", sum, strerror(errno));
        unlink(tmp);
        return false;
    }
    if (!cold_move(db->path, cold)) {
        snprintf(err, errlen, "cannot move %s to %s: %s", db->path, cold, strerror(errno));
        unlink(cold);
        unlink(sum);
        return false;
    }
    return true;
}

int sqlite_cold_thaw(storage_db *db, char *err, size_t errlen)
{
    char cold[PATH_MAX], sum[PATH_MAX];
    if (!db->engine->opt.cold_dir || !db->engine->opt.cold_dir[0])
        return SQLITE_COLD_OK;
    cold_paths(db, cold, sizeof(cold), sum, sizeof(sum));
    if (!cold_exists(cold, NULL))
        return SQLITE_COLD_OK;
    if (cold_exists(db->path, NULL)) { /* an interrupted copy: data_dir's file wins */
        unlink(cold);
        unlink(sum);
        cold_sync_dir(cold);
        return SQLITE_COLD_OK;
    }
    char want[40] = "";
    long long want_size = -1;
    FILE *f = fopen(sum, "re");
    if (!f || fscanf(f, "%32s %lld", want, &want_size) != 2 || strlen(want) != 32) {
        if (f)
            fclose(f);
        snprintf(err, errlen, "its cold copy %s has no valid checksum file %s", cold, sum);
        return SQLITE_COLD_DAMAGED;
    }
    fclose(f);
    char hex[33];
    off_t size = 0;
    if (!cold_hash(cold, hex, &size)) {
        snprintf(err, errlen, "cannot read its cold copy %s: %s", cold, strerror(errno));
        return SQLITE_COLD_IO;
    }
    if (strcmp(hex, want) != 0 || (long long)size != want_size) {
        snprintf(err, errlen, "its cold copy %s is damaged: xxHash %s over %lld bytes, expected "
                 "%s over %lld bytes", cold, hex, (long long)size, want, want_size);
        return SQLITE_COLD_DAMAGED;
    }
    if (!cold_move(cold, db->path)) {
        snprintf(err, errlen, "cannot move %s back to %s: %s", cold, db->path, strerror(errno));
        return SQLITE_COLD_IO;
    }
    unlink(sum);
    cold_sync_dir(sum);
    return SQLITE_COLD_OK;
}
