/*
 * Shared helpers for the unit tests of bench/faas-sim (not a test itself: the
 * CMake glob only picks up test_*.c).  The shipped profiles are found under
 * $DM_SOURCE_DIR/bench/faas-sim/profiles when that is set (as for the e2e
 * tests), else under the source directory the test was built from
 * (DM_FAAS_SIM_PROFILES, a compile definition).  Profiles a test writes go to
 * a temporary directory made by fs_tmp_setup() and removed, with everything in
 * it, by fs_tmp_teardown().
 */
#ifndef DORMOUSE_TEST_FAAS_SIM_H
#define DORMOUSE_TEST_FAAS_SIM_H

#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faas_sim.h"

#define FS_MAX_SHIPPED 64

static char fs_tmp[1024];

static inline void fs_tmp_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(fs_tmp, sizeof(fs_tmp), "%s/dm-faas-sim-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(fs_tmp));
}

static inline int fs_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void fs_tmp_teardown(void)
{
    if (fs_tmp[0])
        nftw(fs_tmp, fs_remove_one, 8, FTW_DEPTH | FTW_PHYS);
    fs_tmp[0] = '\0';
}

/* Writes len bytes to NAME in the temporary directory; its path goes to path. */
static inline void fs_write_bytes(const char *name, const void *data, size_t len, char *path,
                                  size_t cap)
{
    snprintf(path, cap, "%s/%s", fs_tmp, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static inline void fs_write(const char *name, const char *text, char *path, size_t cap)
{
    fs_write_bytes(name, text, strlen(text), path, cap);
}

/* Writes text to NAME and loads it: the profile, or NULL with the error in err. */
static inline sim_profile *fs_load_text(const char *name, const char *text, char *path,
                                        size_t pathcap, char *err, size_t errlen)
{
    fs_write(name, text, path, pathcap);
    err[0] = '\0';
    return sim_profile_load(path, err, errlen);
}

/* Like fs_load_text, for a profile that must load. */
static inline sim_profile *fs_load_ok(const char *text)
{
    char path[1200], err[1600];
    sim_profile *p = fs_load_text("ok.ini", text, path, sizeof(path), err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    return p;
}

static inline const char *fs_profiles_dir(void)
{
    static char dir[1200];
    const char *src = getenv("DM_SOURCE_DIR");
    if (src && src[0])
        snprintf(dir, sizeof(dir), "%s/bench/faas-sim/profiles", src);
    else
        snprintf(dir, sizeof(dir), "%s", DM_FAAS_SIM_PROFILES);
    return dir;
}

static inline int fs_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The paths of the shipped profiles (*.ini), sorted; free them with fs_shipped_free. */
static inline int fs_shipped(char **paths, int cap)
{
    const char *dir = fs_profiles_dir();
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s (set DM_SOURCE_DIR)", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".ini") != 0)
            continue;
        ck_assert_int_lt(n, cap);
        size_t need = strlen(dir) + l + 2;
        paths[n] = malloc(need);
        ck_assert_ptr_nonnull(paths[n]);
        snprintf(paths[n], need, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    qsort(paths, (size_t)n, sizeof(paths[0]), fs_strcmp);
    ck_assert_msg(n > 0, "no profiles in %s", dir);
    return n;
}

static inline void fs_shipped_free(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
}

/* Loads the shipped profile NAME (e.g. "bursts"), which must load. */
static inline sim_profile *fs_load_shipped(const char *name)
{
    char path[1400], err[1600];
    snprintf(path, sizeof(path), "%s/%s.ini", fs_profiles_dir(), name);
    sim_profile *p = sim_profile_load(path, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    return p;
}

static inline int fs_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
