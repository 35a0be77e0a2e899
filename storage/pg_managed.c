/*
 * A PostgreSQL server that Dormouse runs itself (storage.h, "managed
 * PostgreSQL"): the processes of one data directory, started when a client
 * needs the database and stopped when it pauses.
 *
 * One child at a time: initdb (a new cluster), then a single-user postgres
 * that creates the configured database, then the postmaster.  The caller
 * (the proxy's loop) watches each child's exit and polls for readiness; this
 * file only forks, signals and reads files, and never blocks except in
 * storage_pgm_shutdown().
 *
 * Children are forked from a threaded process, so between fork and exec the
 * child calls only async-signal-safe functions: everything it needs (paths,
 * argv, the environment, the user's ids) is prepared before the fork.  It
 * gets a session of its own (a terminal's ^C goes to Dormouse, which stops
 * the server itself), drops to managed_os_user when Dormouse is root
 * (PostgreSQL refuses to run as root), and asks for SIGINT (fast shutdown)
 * when Dormouse dies, so that a kill -9 of Dormouse leaves no server behind.
 */
#include "dormouse/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PGM_ARGS_MAX 16

typedef enum pgm_stage {
    PGM_NONE = 0,
    PGM_INITDB,   /* initdb runs */
    PGM_CREATEDB, /* postgres --single runs CREATE DATABASE */
    PGM_POSTMASTER,
} pgm_stage;

struct storage_pgm {
    storage_pgm_options o;
    storage_pgm_state state;
    pgm_stage stage;
    pid_t pid;        /* the child of the current stage; 0: none */
    bool want_up;     /* start: true; stop: false */
    bool crashed;     /* the last postmaster exit was not asked for */
    bool run_as;      /* drop to uid/gid in the child */
    uid_t uid;
    gid_t gid;
    char error[1200];
    uint64_t start_began_us, start_us, ready_at_us;
    off_t log_start;  /* where this start's output begins in the log */
};

const char *storage_pgm_state_str(storage_pgm_state s)
{
    switch (s) {
    case STORAGE_PGM_STOPPED:
        return "stopped";
    case STORAGE_PGM_STARTING:
        return "starting";
    case STORAGE_PGM_READY:
        return "ready";
    case STORAGE_PGM_STOPPING:
        return "stopping";
    case STORAGE_PGM_FAILED:
        return "failed";
    }
    return "unknown";
}

static uint64_t pgm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool pgm_file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* The newest /usr/lib/postgresql/<major>/bin with a postgres in it. */
static bool pgm_find_bindir(char *out, size_t outlen)
{
    int best = -1;
    for (int major = 40; major >= 9 && best < 0; major--) {
        char dir[64];
        snprintf(dir, sizeof(dir), "/usr/lib/postgresql/%d/bin", major);
        if (pgm_file_exists(dir, "postgres"))
            best = major;
    }
    if (best < 0)
        return false;
    snprintf(out, outlen, "/usr/lib/postgresql/%d/bin", best);
    return true;
}

storage_pgm *storage_pgm_new(const storage_pgm_options *o, char *err, size_t errlen)
{
    storage_pgm *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->o = *o;
    if (!m->o.bindir[0] && !pgm_find_bindir(m->o.bindir, sizeof(m->o.bindir))) {
        snprintf(err, errlen, "no PostgreSQL server found in /usr/lib/postgresql/*/bin (install the "
                 "postgresql package or set managed_bindir)");
        free(m);
        return NULL;
    }
    if (!pgm_file_exists(m->o.bindir, "postgres")) {
        snprintf(err, errlen, "%s/postgres does not exist", m->o.bindir);
        free(m);
        return NULL;
    }
    if (geteuid() == 0) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(m->o.os_user, &pw, buf, sizeof(buf), &res) != 0 || !res) {
            snprintf(err, errlen, "managed_os_user \"%s\" does not exist (PostgreSQL refuses to run "
                     "as root)", m->o.os_user);
            free(m);
            return NULL;
        }
        if (res->pw_uid == 0) {
            snprintf(err, errlen, "managed_os_user \"%s\" is root, and PostgreSQL refuses to run as "
                     "root", m->o.os_user);
            free(m);
            return NULL;
        }
        m->run_as = true;
        m->uid = res->pw_uid;
        m->gid = res->pw_gid;
    }
    return m;
}

void storage_pgm_free(storage_pgm *m)
{
    free(m);
}

storage_pgm_state storage_pgm_get_state(const storage_pgm *m)
{
    return m->state;
}

const char *storage_pgm_error(const storage_pgm *m)
{
    return m->error;
}

pid_t storage_pgm_pid(const storage_pgm *m)
{
    return m->stage == PGM_POSTMASTER ? m->pid : 0;
}

bool storage_pgm_crashed(const storage_pgm *m)
{
    return m->crashed;
}

uint64_t storage_pgm_start_us(const storage_pgm *m)
{
    return m->start_us;
}

const storage_pgm_options *storage_pgm_get_options(const storage_pgm *m)
{
    return &m->o;
}

/* ---- errors: what the server said ---- */

/* The reason a stage failed, from the log written since this start: its last
 * FATAL/PANIC/ERROR line, else its last line. */
static void pgm_fail(storage_pgm *m, const char *what_in)
{
    char what[256], tail[8192] = "";
    snprintf(what, sizeof(what), "%s", what_in); /* what_in may be m->error */
    int fd = open(m->o.log_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        off_t end = lseek(fd, 0, SEEK_END);
        off_t from = end - (off_t)(sizeof(tail) - 1);
        if (from < m->log_start)
            from = m->log_start;
        if (from < 0)
            from = 0;
        ssize_t n = pread(fd, tail, sizeof(tail) - 1, from);
        tail[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    const char *best = NULL, *last = NULL;
    char *save = NULL;
    for (char *line = strtok_r(tail, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        last = line;
        /* from its level on: "<time> [pid] FATAL:  ..." says "FATAL:  ..." */
        const char *level = strstr(line, "FATAL:");
        if (!level)
            level = strstr(line, "PANIC:");
        if (!level)
            level = strstr(line, "ERROR:");
        if (level)
            best = level;
    }
    if (!best)
        best = last;
    if (best)
        snprintf(m->error, sizeof(m->error), "%s: %.300s", what, best);
    else
        snprintf(m->error, sizeof(m->error), "%s (see %s)", what, m->o.log_path);
    m->state = STORAGE_PGM_FAILED;
    m->stage = PGM_NONE;
    m->pid = 0;
}

/* ---- processes ---- */

/* Forks argv[0] with the log as stdout and stderr and `input` (or
 * /dev/null) as stdin; the pid, or -1 with m->error set. */
static pid_t pgm_spawn(storage_pgm *m, char *const argv[], const char *input)
{
    static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", NULL};
    int in[2] = {-1, -1};
    int logfd = open(m->o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (logfd < 0) {
        snprintf(m->error, sizeof(m->error), "cannot open the log %s: %s", m->o.log_path,
                 strerror(errno));
        return -1;
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0 || (input && pipe2(in, O_CLOEXEC) < 0)) {
        snprintf(m->error, sizeof(m->error), "cannot start %s: %s", argv[0], strerror(errno));
        close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: async-signal-safe calls only */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, NULL);
        setsid();
        if (dup2(input ? in[0] : nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        if (m->run_as) {
            if (setgroups(1, &m->gid) != 0 || setgid(m->gid) != 0 || setuid(m->uid) != 0)
                _exit(126);
        }
        /* after the ids changed (a change clears it): Dormouse's death stops it */
        prctl(PR_SET_PDEATHSIG, SIGINT);
        if (getppid() != parent)
            _exit(1);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    int saved = errno;
    close(logfd);
    close(nullfd);
    if (input) {
        close(in[0]);
        if (pid > 0) {
            size_t len = strlen(input); /* a few bytes: the pipe takes them at once */
            ssize_t n = write(in[1], input, len);
            (void)n;
        }
        close(in[1]);
    }
    if (pid < 0) {
        snprintf(m->error, sizeof(m->error), "cannot fork: %s", strerror(saved));
        return -1;
    }
    m->pid = pid;
    return pid;
}

static pid_t pgm_start_postmaster(storage_pgm *m)
{
    char postgres[PATH_MAX], port[16], sockdir[PATH_MAX + 32];
    snprintf(postgres, sizeof(postgres), "%s/postgres", m->o.bindir);
    snprintf(port, sizeof(port), "%d", m->o.port);
    snprintf(sockdir, sizeof(sockdir), "unix_socket_directories=%s", m->o.datadir);
    char *argv[PGM_ARGS_MAX] = {postgres, "-D", m->o.datadir, "-p", port,
                                "-c", "listen_addresses=", "-c", sockdir,
                                "-c", "unix_socket_permissions=0700", NULL};
    m->stage = PGM_POSTMASTER;
    if (pgm_spawn(m, argv, NULL) < 0) {
        m->state = STORAGE_PGM_FAILED;
        m->stage = PGM_NONE;
        return -1;
    }
    return m->pid;
}

static pid_t pgm_start_initdb(storage_pgm *m)
{
    /* mkdir -p as Dormouse, then hand the directory to the server's user */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", m->o.datadir);
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            break;
        *s = '/';
    }
    if (mkdir(m->o.datadir, 0700) != 0 && errno != EEXIST) {
        snprintf(m->error, sizeof(m->error), "cannot create managed_datadir %s: %s", m->o.datadir,
                 strerror(errno));
        m->state = STORAGE_PGM_FAILED;
        return -1;
    }
    if (m->run_as && chown(m->o.datadir, m->uid, m->gid) != 0) {
        snprintf(m->error, sizeof(m->error), "cannot give %s to %s: %s", m->o.datadir, m->o.os_user,
                 strerror(errno));
        m->state = STORAGE_PGM_FAILED;
        return -1;
    }
    char initdb[PATH_MAX];
    snprintf(initdb, sizeof(initdb), "%s/initdb", m->o.bindir);
    char *argv[PGM_ARGS_MAX] = {initdb, "-D", m->o.datadir, "-U", m->o.superuser,
                                "-A", "trust", "-E", "UTF8", "--locale=C", NULL};
    m->stage = PGM_INITDB;
    if (pgm_spawn(m, argv, NULL) < 0) {
        m->state = STORAGE_PGM_FAILED;
        m->stage = PGM_NONE;
        return -1;
    }
    return m->pid;
}

/* A new cluster has postgres, template0 and template1: the configured
 * database is made by a single-user server before the postmaster starts. */
static pid_t pgm_start_createdb(storage_pgm *m)
{
    char postgres[PATH_MAX], sql[WIRE_NAME_MAX * 2 + 64];
    snprintf(postgres, sizeof(postgres), "%s/postgres", m->o.bindir);
    size_t n = (size_t)snprintf(sql, sizeof(sql), "CREATE DATABASE \"");
    for (const char *c = m->o.dbname; *c && n < sizeof(sql) - 8; c++) {
        if (*c == '"')
            sql[n++] = '"';
        sql[n++] = *c;
    }
    snprintf(sql + n, sizeof(sql) - n, "\";\n");
    char *argv[PGM_ARGS_MAX] = {postgres, "--single", "-D", m->o.datadir, "postgres", NULL};
    m->stage = PGM_CREATEDB;
    if (pgm_spawn(m, argv, sql) < 0) {
        m->state = STORAGE_PGM_FAILED;
        m->stage = PGM_NONE;
        return -1;
    }
    return m->pid;
}

pid_t storage_pgm_start(storage_pgm *m)
{
    m->want_up = true;
    if (m->state == STORAGE_PGM_STARTING || m->state == STORAGE_PGM_READY ||
        m->state == STORAGE_PGM_STOPPING)
        return 0; /* under way, up, or it starts again once stopped */
    m->error[0] = '\0';
    m->crashed = false;
    m->state = STORAGE_PGM_STARTING;
    m->start_began_us = pgm_now_us();
    struct stat st;
    m->log_start = stat(m->o.log_path, &st) == 0 ? st.st_size : 0;
    if (!pgm_file_exists(m->o.datadir, "PG_VERSION")) {
        if (!m->o.initdb) {
            snprintf(m->error, sizeof(m->error), "%s holds no PostgreSQL cluster (no PG_VERSION); "
                     "set managed_initdb=yes to create one", m->o.datadir);
            m->state = STORAGE_PGM_FAILED;
            return -1;
        }
        pid_t pid = pgm_start_initdb(m);
        if (pid < 0)
            pgm_fail(m, m->error[0] ? m->error : "initdb failed");
        return pid;
    }
    return pgm_start_postmaster(m);
}

void storage_pgm_stop(storage_pgm *m)
{
    m->want_up = false;
    if (m->stage == PGM_POSTMASTER && m->pid > 0 &&
        (m->state == STORAGE_PGM_READY || m->state == STORAGE_PGM_STARTING)) {
        kill(m->pid, SIGINT); /* fast shutdown: sessions end, the checkpoint is written */
        m->state = STORAGE_PGM_STOPPING;
    }
    /* initdb or CREATE DATABASE: they finish, and nothing starts after them */
}

bool storage_pgm_poll_ready(storage_pgm *m)
{
    if (m->state != STORAGE_PGM_STARTING || m->stage != PGM_POSTMASTER)
        return m->state == STORAGE_PGM_READY;
    /* postmaster.pid: line 1 its pid, line 8 its status ("ready" once it
     * accepts connections) */
    char path[PATH_MAX], buf[1024];
    snprintf(path, sizeof(path), "%s/postmaster.pid", m->o.datadir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    if (strtol(buf, NULL, 10) != (long)m->pid)
        return false;
    const char *line = buf;
    for (int i = 1; i < 8 && line; i++) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (!line || strncmp(line, "ready", 5) != 0)
        return false;
    m->ready_at_us = pgm_now_us();
    m->start_us = m->ready_at_us - m->start_began_us;
    m->state = STORAGE_PGM_READY;
    if (!m->want_up)
        storage_pgm_stop(m); /* nobody wants it any more */
    return m->state == STORAGE_PGM_READY;
}

static void pgm_describe_exit(int status, char *out, size_t outlen)
{
    if (WIFEXITED(status))
        snprintf(out, outlen, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, outlen, "status %d", status);
}

pid_t storage_pgm_child_exited(storage_pgm *m, pid_t pid, int status)
{
    if (pid != m->pid || m->pid == 0)
        return 0;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char how[96], what[192];
    pgm_describe_exit(status, how, sizeof(how));
    pgm_stage stage = m->stage;
    m->pid = 0;
    m->stage = PGM_NONE;
    switch (stage) {
    case PGM_INITDB:
    case PGM_CREATEDB:
        if (!ok) {
            snprintf(what, sizeof(what), "%s failed (%s)",
                     stage == PGM_INITDB ? "initdb" : "CREATE DATABASE", how);
            pgm_fail(m, what);
            return 0;
        }
        if (!m->want_up) {
            m->state = STORAGE_PGM_STOPPED;
            return 0;
        }
        if (stage == PGM_INITDB && m->o.dbname[0] && strcmp(m->o.dbname, "postgres") != 0 &&
            strcmp(m->o.dbname, "template1") != 0) {
            pid_t next = pgm_start_createdb(m);
            if (next < 0)
                pgm_fail(m, m->error);
            return next > 0 ? next : 0;
        }
        break;
    case PGM_POSTMASTER:
        if (m->state == STORAGE_PGM_STARTING) {
            snprintf(what, sizeof(what), "the server exited while starting (%s)", how);
            pgm_fail(m, what);
            return 0;
        }
        if (m->state == STORAGE_PGM_READY) { /* nobody asked: it crashed or was killed */
            m->crashed = true;
            snprintf(m->error, sizeof(m->error), "exited unexpectedly (%s)", how);
        }
        m->state = STORAGE_PGM_STOPPED;
        if (!m->want_up || m->crashed)
            return 0; /* the caller decides whether a crashed server comes back */
        return storage_pgm_start(m) > 0 ? m->pid : 0; /* asked for again while it stopped */
    case PGM_NONE:
        return 0;
    }
    pid_t next = pgm_start_postmaster(m);
    if (next < 0)
        pgm_fail(m, m->error);
    return next > 0 ? next : 0;
}

void storage_pgm_shutdown(storage_pgm *m, int timeout_s)
{
    if (m->pid <= 0)
        return;
    int sig = m->stage == PGM_POSTMASTER ? SIGINT : SIGTERM;
    kill(m->pid, sig);
    /* fast shutdown, then immediate shutdown, then SIGKILL */
    int waits[3] = {timeout_s * 100, 500, 500};
    int sigs[3] = {SIGQUIT, SIGKILL, 0};
    for (int phase = 0; phase < 3; phase++) {
        for (int i = 0; i < waits[phase]; i++) {
            int status;
            pid_t r = waitpid(m->pid, &status, WNOHANG);
            if (r == m->pid || (r < 0 && errno == ECHILD)) {
                m->pid = 0;
                m->stage = PGM_NONE;
                m->state = STORAGE_PGM_STOPPED;
                return;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (sigs[phase])
            kill(m->pid, sigs[phase]);
    }
}
