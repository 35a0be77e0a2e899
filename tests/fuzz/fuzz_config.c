/*
 * libFuzzer target: the INI configuration file (proxy/config.c,
 * proxy_config_load), every section and key, with inih underneath.
 *
 * proxy_config_load reads a path, so the input goes to an in-memory file
 * (memfd) opened through /proc/self/fd: no disk writes per run.  A file the
 * loader accepts must leave a configuration that the rest of Dormouse can
 * rely on: at least one [databases] rule, names and strings terminated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dormouse/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];
static proxy_config cfg; /* large: not on the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("dm_fuzz_config", 0);
        if (memfd < 0)
            abort();
        snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) != 0 || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
        abort();

    char err[512] = "";
    if (proxy_config_load(&cfg, memfd_path, NULL, err, sizeof err)) {
        if (cfg.ndatabases < 1 || cfg.ndatabases > PROXY_MAX_DATABASE_RULES ||
            cfg.nplans < 0 || cfg.nplans > PROXY_MAX_PLANS || cfg.nquotas < 0 ||
            cfg.nquotas > PROXY_MAX_QUOTAS)
            abort();
        for (int i = 0; i < cfg.ndatabases; i++)
            if (!memchr(cfg.databases[i].name, '\0', sizeof cfg.databases[i].name))
                abort();
        if (!memchr(cfg.listen_addr, '\0', sizeof cfg.listen_addr) ||
            !memchr(cfg.data_dir, '\0', sizeof cfg.data_dir) ||
            !memchr(cfg.auth_file, '\0', sizeof cfg.auth_file) ||
            !memchr(cfg.admin_users, '\0', sizeof cfg.admin_users))
            abort();
    } else if (err[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    return 0;
}
