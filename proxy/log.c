/*
 * Logging: one line per event on stderr, with a UTC timestamp, the process
 * id and the level.  Lines about a client carry its identity (see session.c).
 * Each line goes out in one write(2), so lines from different threads never
 * interleave.
 */
#include "dormouse/proxy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile proxy_log_level log_min_level = PROXY_LOG_INFO;

const char *proxy_log_level_str(proxy_log_level l)
{
    switch (l) {
    case PROXY_LOG_DEBUG:
        return "debug";
    case PROXY_LOG_INFO:
        return "info";
    case PROXY_LOG_WARNING:
        return "warning";
    case PROXY_LOG_ERROR:
        return "error";
    }
    return "unknown";
}

bool proxy_log_level_parse(const char *s, proxy_log_level *out)
{
    static const struct {
        const char *name;
        proxy_log_level level;
    } names[] = {
        {"debug", PROXY_LOG_DEBUG},     {"info", PROXY_LOG_INFO},   {"log", PROXY_LOG_INFO},
        {"notice", PROXY_LOG_INFO},     {"warning", PROXY_LOG_WARNING},
        {"warn", PROXY_LOG_WARNING},    {"error", PROXY_LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}

void proxy_log_set_level(proxy_log_level l)
{
    log_min_level = l;
}

void proxy_log(proxy_log_level l, const char *fmt, ...)
{
    if (l < log_min_level)
        return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC [%d] %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), (int)getpid(),
                     l == PROXY_LOG_DEBUG     ? "DEBUG"
                     : l == PROXY_LOG_INFO    ? "LOG"
                     : l == PROXY_LOG_WARNING ? "WARNING"
                                              : "ERROR");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
