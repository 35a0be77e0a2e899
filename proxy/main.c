/*
 * dormouse: command line.  Loads the configuration (file, then command-line
 * overrides), starts the server and runs its loop until a graceful shutdown.
 */
#include "dormouse/proxy.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(FILE *out)
{
    fprintf(out,
            "dormouse %s: a scale-to-zero serverless SQL database behind the PostgreSQL "
            "protocol\n\n"
            "Usage: dormouse [-c FILE] [OPTIONS]\n\n"
            "Options:\n"
            "  -c, --config FILE          INI configuration file (see README.md)\n"
            "  -p, --port PORT            listen_port (default 6432)\n"
            "  -l, --listen ADDR          listen_addr (default 127.0.0.1; * for all)\n"
            "  -D, --data-dir DIR         data_dir: SQLite files live here (default ./data)\n"
            "  -k, --unix-socket-dir DIR  also listen on DIR/.s.PGSQL.PORT\n"
            "  -v, --log-level LEVEL      debug, info, warning or error\n"
            "  -V, --version              print the version and exit\n"
            "  -h, --help                 print this help and exit\n\n"
            "Signals: SIGTERM/SIGINT shut down gracefully (twice: interrupt running\n"
            "statements); SIGHUP reloads the configuration file.\n",
            DORMOUSE_VERSION);
}

/* Each client holds a socket, each upstream server connection another, and
 * SQLite files a few more: the soft descriptor limit (often 1,024) goes up
 * to the hard one, and a limit below max_client_conn is reported. */
static void raise_fd_limit(const proxy_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t want = (rlim_t)cfg->max_client_conn + 128;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        proxy_log(PROXY_LOG_WARNING,
                  "the descriptor limit (%llu) is below max_client_conn + 128 (%llu): clients "
                  "beyond it will be refused; raise it with ulimit -n",
                  (unsigned long long)rl.rlim_cur, (unsigned long long)want);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'D'},
        {"unix-socket-dir", required_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_file = NULL;
    proxy_config_overrides ov;
    memset(&ov, 0, sizeof(ov));
    int c;
    while ((c = getopt_long(argc, argv, "c:p:l:D:k:v:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_file = optarg;
            break;
        case 'p': {
            char *end;
            long port = strtol(optarg, &end, 10);
            if (*end || port < 1 || port > 65535) {
                fprintf(stderr, "dormouse: --port must be a port number\n");
                return 2;
            }
            ov.listen_port = (int)port;
            break;
        }
        case 'l':
            ov.listen_addr = optarg;
            break;
        case 'D':
            ov.data_dir = optarg;
            break;
        case 'k':
            ov.unix_socket_dir = optarg;
            break;
        case 'v':
            ov.log_level = optarg;
            break;
        case 'V':
            printf("dormouse %s\n", DORMOUSE_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dormouse: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    static proxy_config cfg; /* large: keep it off the stack */
    char err[1024];
    if (!proxy_config_load(&cfg, config_file, &ov, err, sizeof(err))) {
        fprintf(stderr, "dormouse: %s\n", err);
        return 1;
    }
    raise_fd_limit(&cfg);
    proxy_server *srv = proxy_server_new(&cfg, &ov, err, sizeof(err));
    if (!srv) {
        proxy_log(PROXY_LOG_ERROR, "cannot start: %s", err);
        return 1;
    }
    int status = proxy_server_run(srv);
    proxy_server_free(srv);
    proxy_log(PROXY_LOG_INFO, "shutdown complete");
    return status;
}
