/* sluice: the command line. */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "checkpoint.h"
#include "graph.h"
#include "listen_addr.h"
#include "log.h"
#include "metrics_http.h"
#include "options.h"
#include "pipeline.h"
#include "pipeline_probe.h"
#include "pipeline_test.h"
#include "plugin_loader.h"
#include "stats.h"
#include "status_line.h"
#include "xalloc.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

/* Exit codes. */
enum {
    EXIT_OK = 0,
    EXIT_RUN_FAILED = 1, /* a pipeline failed while running */
    EXIT_USAGE = 2,      /* bad command line */
    EXIT_INVALID = 3,    /* a pipeline file or plugin is invalid */
    /* 4, EXIT_OUT_OF_MEMORY (xalloc.h): memory ran out; the process stopped */
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t first_signal_at; /* monotonic seconds */

/* A plugin asked for an option it did not declare, or with the wrong type. */
static void report_option_misuse(const sluice_options *opts, const char *message)
{
    (void)opts;
    log_msg(SLUICE_LOG_ERROR, NULL, "plugin bug: %s", message);
}

static void on_signal(int sig)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (stop_requested) {
        /* A second signal well after the first: the user wants out now. One
         * arriving at once is the same request twice (`timeout` signals both
         * the child and its process group) and must not skip the flush. */
        if (now.tv_sec - first_signal_at >= 2) {
            status_line_abandon(); /* the terminal gets its height back */
            signal(sig, SIG_DFL);
            raise(sig);
        }
        return;
    }
    first_signal_at = (sig_atomic_t)now.tv_sec;
    stop_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *out)
{
    fputs("Usage: sluice [--log-level LEVEL] COMMAND [ARGS]\n"
          "\n"
          "Sluice: a real-time clickstream analytics engine.\n"
          "\n"
          "Commands:\n"
          "  run PIPELINE.yaml...    run pipelines until their sources end or SIGINT/SIGTERM\n"
          "  check PIPELINE.yaml...  validate pipelines without running them (--connect: start steps)\n"
          "  graph PIPELINE.yaml     print a pipeline's graph (Graphviz DOT, or --format text)\n"
          "  plugins [NAME]          list the plugins found (or one), with their options\n"
          "  test FILE.test.yaml...  run pipeline tests: input events, expected records (docs/testing.md)\n"
          "  broker                  run a standalone embedded Kafka broker (development)\n"
          "\n"
          "Options:\n"
          "  --log-level LEVEL       error, warn, info (default) or debug; also SLUICE_LOG_LEVEL\n"
          "  -h, --help              this help; `sluice COMMAND --help` explains a command\n"
          "  -V, --version           print the version\n"
          "\n"
          "Exit codes: 0 success, 1 a pipeline failed while running, 2 bad usage,\n"
          "3 an invalid pipeline or plugin, 4 out of memory (a restart resumes from the\n"
          "last checkpoint).\n"
          "Plugins are searched in a pipeline's plugin_path, then $SLUICE_PLUGIN_PATH,\n"
          "then beside the sluice binary, then the install folder.\n",
          out);
}

/* ---- run ------------------------------------------------------------------ */

/* Steps named by --discard-state (the strings are argv's). */
typedef struct discard_list {
    const char **names;
    size_t count;
} discard_list;

static void discard_add(discard_list *l, const char *name)
{
    const char **grown = xrealloc(l->names, (l->count + 1) * sizeof *grown);
    l->names = grown;
    l->names[l->count++] = name;
}

static void discard_apply(const discard_list *l, pipeline *p)
{
    if (l->count == 0)
        return;
    p->discard_state = xcalloc(l->count, sizeof *p->discard_state);
    for (size_t i = 0; i < l->count; i++)
        p->discard_state[i] = xstrdup(l->names[i]);
    p->ndiscard_state = l->count;
}

typedef struct run_job {
    pipeline *p;
    int result;
    pthread_t thread;
} run_job;

static void *run_thread(void *arg)
{
    run_job *job = arg;
    job->result = pipeline_run(job->p, &stop_requested);
    if (job->result == 0 && stop_requested)
        log_msg(SLUICE_LOG_INFO, job->p->def->name, "stopped on signal, output flushed");
    return NULL;
}

static int open_all(int n, char **paths, pipeline **out)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        diag_list d;
        diag_init(&d);
        out[i] = pipeline_open(paths[i], &d);
        if (out[i] == NULL) {
            if (d.count == 0)
                fprintf(stderr, "%s: error: cannot read the pipeline\n", paths[i]);
            diag_print(&d, stderr);
            bad = 1;
        }
        diag_free(&d);
    }
    return bad;
}

/* Where /metrics is served: the command line's address, else the one the
 * pipeline files name (they must agree: one endpoint serves them all).
 * NULL: nowhere; -1 in *bad when files disagree. */
static const char *metrics_address(const char *cli, pipeline **ps, int n, int *bad)
{
    const char *addr = cli;
    *bad = 0;
    for (int i = 0; i < n && cli == NULL; i++) {
        const char *mine = ps[i]->def->metrics_listen;
        if (mine == NULL)
            continue;
        if (addr && strcmp(addr, mine) != 0) {
            diag_list d;
            diag_init(&d);
            diag_add(&d, ps[i]->def->metrics_listen_pos,
                     "metrics: listen '%s' differs from '%s' of another pipeline; one endpoint serves "
                     "every pipeline (or give --metrics-listen)",
                     mine, addr);
            diag_print(&d, stderr);
            diag_free(&d);
            *bad = 1;
            return NULL;
        }
        addr = mine;
    }
    return addr;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"metrics", required_argument, NULL, 'm'}, {"metrics-listen", required_argument, NULL, 'l'},
        {"no-progress", no_argument, NULL, 'P'},   {"discard-state", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *metrics_path = NULL, *listen_cli = NULL;
    int progress = 1;
    discard_list discard = {NULL, 0};
    int c;
    optind = 1;
    /* No '+': options may come after the pipeline files, as with most
     * commands (`sluice run p.yaml --metrics m.json`). */
    while ((c = getopt_long(argc, argv, "m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            metrics_path = optarg;
            break;
        case 'l':
            listen_cli = optarg;
            break;
        case 'P':
            progress = 0;
            break;
        case 'D':
            discard_add(&discard, optarg);
            break;
        case 'h':
            puts("Usage: sluice run [--metrics FILE] [--metrics-listen ADDR] [--no-progress] "
                 "PIPELINE.yaml...\n"
                 "(options may also follow the files)\n"
                 "\n"
                 "Runs the pipelines, each on its own thread, until every source ends or\n"
                 "SIGINT/SIGTERM arrives; then flushes every sink and exits. A bounded\n"
                 "input (end of file, stop_at_end) brings the watermark to +infinity first,\n"
                 "emitting every open window and session; a signal does not.\n"
                 "\n"
                 "  --metrics FILE         write the counters of every step as JSON lines at exit\n"
                 "  --metrics-listen ADDR  serve Prometheus metrics at http://ADDR/metrics while\n"
                 "                         running (HOST:PORT, [IPV6]:PORT or :PORT; port 0 picks a\n"
                 "                         free one and logs it); also `metrics: {listen: ADDR}`\n"
                 "  --no-progress          no live status line (shown only when stderr is a terminal)\n"
                 "  --discard-state STEP   start STEP with no state although the checkpoint holds\n"
                 "                         some (a step that is gone, or state its plugin refuses);\n"
                 "                         repeatable. Without it such a checkpoint stops the run.");
            free(discard.names);
            return EXIT_OK;
        default:
            free(discard.names);
            return EXIT_USAGE;
        }
    }
    int n = argc - optind;
    if (n < 1) {
        fputs("sluice run: no pipeline given (see sluice run --help)\n", stderr);
        free(discard.names);
        return EXIT_USAGE;
    }
    char err[512];
    if (listen_cli) {
        char host[256];
        int port;
        if (listen_addr_split(listen_cli, host, sizeof host, &port, err, sizeof err) != 0) {
            fprintf(stderr, "sluice run: --metrics-listen %s\n", err);
            free(discard.names);
            return EXIT_USAGE;
        }
    }
    pipeline **ps = xcalloc((size_t)n, sizeof *ps);
    run_job *jobs = xcalloc((size_t)n, sizeof *jobs);
    pipeline_stats **stats = xcalloc((size_t)n, sizeof *stats);
    metrics_server *server = NULL;
    int code = EXIT_OK, bad_addr;
    if (open_all(n, argv + optind, ps)) {
        code = EXIT_INVALID;
        goto out;
    }
    const char *listen = metrics_address(listen_cli, ps, n, &bad_addr);
    if (bad_addr) {
        code = EXIT_INVALID;
        goto out;
    }
    progress = progress && status_line_possible();
    if (listen || progress) {
        for (int i = 0; i < n; i++) {
            if ((stats[i] = stats_new()) == NULL) {
                log_msg(SLUICE_LOG_ERROR, NULL, "out of memory");
                code = EXIT_RUN_FAILED;
                goto out;
            }
            ps[i]->stats = stats[i];
        }
    }
    if (listen) {
        if ((server = metrics_server_start(listen, stats, (size_t)n, err, sizeof err)) == NULL) {
            log_msg(SLUICE_LOG_ERROR, NULL, "metrics: %s", err);
            code = EXIT_RUN_FAILED;
            goto out;
        }
        log_msg(SLUICE_LOG_INFO, NULL, "metrics at %s", metrics_server_url(server));
    }
    for (int i = 0; i < n; i++)
        discard_apply(&discard, ps[i]);
    for (int i = 0; i < n; i++) {
        if (pipeline_start(ps[i]) != 0) {
            code = EXIT_RUN_FAILED;
            goto out;
        }
    }
    if (progress)
        status_line_start(stats, (size_t)n);
    for (int i = 0; i < n; i++) {
        jobs[i].p = ps[i];
        pthread_create(&jobs[i].thread, NULL, run_thread, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(jobs[i].thread, NULL);
        if (jobs[i].result != 0)
            code = EXIT_RUN_FAILED;
    }
    status_line_stop();
    if (metrics_path) {
        FILE *f = fopen(metrics_path, "w");
        if (f == NULL) {
            log_msg(SLUICE_LOG_ERROR, NULL, "cannot write metrics to %s: %m", metrics_path);
            code = code ? code : EXIT_RUN_FAILED;
        } else {
            for (int i = 0; i < n; i++) {
                char *text = pipeline_metrics_json(ps[i]);
                fprintf(f, "%s\n", text);
                free(text);
            }
            fclose(f);
        }
    }
out:
    metrics_server_stop(server);
    for (int i = 0; i < n; i++) {
        pipeline_close(ps[i]);
        stats_free(stats[i]);
    }
    free(ps);
    free(jobs);
    free(stats);
    free(discard.names);
    return code;
}

/* ---- check, graph ------------------------------------------------------ */

static size_t count_sinks(const pipeline *p)
{
    size_t n = 0;
    for (size_t k = 0; k < p->nsteps; k++)
        n += p->steps[k].plugin && p->steps[k].plugin->desc.kind == SLUICE_KIND_SINK;
    return n;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {{"connect", no_argument, NULL, 'c'},
                                             {"discard-state", required_argument, NULL, 'D'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int connect = 0, c;
    discard_list discard = {NULL, 0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            connect = 1;
            break;
        case 'D':
            discard_add(&discard, optarg);
            break;
        case 'h':
            puts("Usage: sluice check [--connect] [--discard-state STEP] PIPELINE.yaml...\n"
                 "\n"
                 "Validates everything that can be validated without running: the YAML,\n"
                 "environment interpolation, plugins found and loaded, options type-checked\n"
                 "and checked by each plugin's own validate hook, event settings, the graph\n"
                 "(inputs, outputs, cycles), steps that keep state they cannot checkpoint,\n"
                 "and the state folder's checkpoint: state of steps the pipeline no longer\n"
                 "has, or that an operator refuses to restore. Prints every error as\n"
                 "file:line:column: error: message and exits 3 if there is any. For a valid\n"
                 "pipeline it shows the keyed stages and the tasks they run in.\n"
                 "\n"
                 "  --connect             also create every step once (connects to brokers and\n"
                 "                        databases, opens files) and try every step's state\n"
                 "  --discard-state STEP  check as `sluice run --discard-state STEP` would run");
            free(discard.names);
            return EXIT_OK;
        default:
            free(discard.names);
            return EXIT_USAGE;
        }
    }
    int n = argc - optind;
    if (n < 1) {
        fputs("sluice check: no pipeline given\n", stderr);
        free(discard.names);
        return EXIT_USAGE;
    }
    pipeline **ps = xcalloc((size_t)n, sizeof *ps);
    int bad = open_all(n, argv + optind, ps);
    for (int i = 0; i < n; i++) {
        if (ps[i] == NULL)
            continue;
        discard_apply(&discard, ps[i]);
        diag_list d;
        diag_init(&d);
        checkpoint_check(ps[i], connect, &d);
        if (connect)
            pipeline_probe(ps[i], &d);
        if (d.count) {
            diag_print(&d, stderr);
            bad = 1;
        } else {
            size_t steps = ps[i]->nsteps;
            printf("%s: ok (%zu step%s%s)\n", argv[optind + i], steps, steps == 1 ? "" : "s",
                   connect ? ", every step started" : "");
            pipeline_print_stages(ps[i], "  ", stdout);
            if (count_sinks(ps[i]) == 0)
                fprintf(stderr,
                        "%s: warning: no step is a sink, so the results go nowhere "
                        "(add one, e.g. `plugin: stdout` with an input)\n",
                        argv[optind + i]);
        }
        diag_free(&d);
        pipeline_close(ps[i]);
    }
    free(ps);
    free(discard.names);
    return bad ? EXIT_INVALID : EXIT_OK;
}

/* What graph_print_* needs of a step's plugin (the kind; outputs are only
 * needed to validate, already done by pipeline_open). */
static int step_plugin_info(void *ud, size_t i, sluice_kind *kind, const char *const **outputs)
{
    const pipeline *p = ud;
    if (p->steps[i].plugin == NULL)
        return 0;
    *kind = p->steps[i].plugin->desc.kind;
    *outputs = p->steps[i].plugin->outputs;
    return 1;
}

/* Is `prog` an executable file in a $PATH folder? */
static int on_path(const char *prog)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        char full[4096];
        snprintf(full, sizeof full, "%.*s/%s", (int)(len ? len : 1), len ? path : ".", prog);
        if (access(full, X_OK) == 0)
            return 1;
        path += len + (path[len] == ':');
    }
    return 0;
}

static int cmd_graph(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int text = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "text") == 0)
                text = 1;
            else if (strcmp(optarg, "dot") == 0)
                text = 0;
            else {
                fprintf(stderr, "sluice graph: unknown format '%s' (dot or text)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            puts("Usage: sluice graph [--format dot|text] PIPELINE.yaml\n"
                 "\n"
                 "Prints the pipeline's graph: in Graphviz DOT by default, to be drawn with\n"
                 "`sluice graph p.yaml | dot -Tpng > g.png` (dot comes with Graphviz: on\n"
                 "Debian, apt-get install graphviz); --format text prints one step per line\n"
                 "with its plugin, kind and inputs, and needs nothing else.");
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fputs("sluice graph: give exactly one pipeline\n", stderr);
        return EXIT_USAGE;
    }
    pipeline *p;
    if (open_all(1, argv + optind, &p))
        return EXIT_INVALID;
    if (text) {
        graph_print_text(p->def, step_plugin_info, p, stdout);
        pipeline_print_stages(p, "  ", stdout);
    } else {
        pipeline_print_dot(p, stdout);
        /* `sluice graph p.yaml | dot` then fails with only the shell's
         * "dot: command not found": say where dot comes from. */
        if (!on_path("dot"))
            fputs("sluice graph: note: Graphviz's `dot` is not installed, so this DOT text cannot be drawn "
                  "here (on Debian: apt-get install graphviz); `sluice graph --format text` needs nothing\n",
                  stderr);
    }
    pipeline_close(p);
    return EXIT_OK;
}

/* ---- plugins ------------------------------------------------------------ */

typedef struct plugins_listing {
    const char *only; /* a plugin name, or NULL for all */
    int shown;
    int broken;
} plugins_listing;

/* "<dir>/<kind>-<name>.so" names plugin `name` (of any kind)? */
static int file_names_plugin(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dash = strchr(base, '-');
    size_t n = strlen(name);
    return dash && strncmp(dash + 1, name, n) == 0 && strcmp(dash + 1 + n, ".so") == 0;
}

/* Is there a file <kind>-<name>.so of any kind on the path? */
static int plugin_path_has_file(const plugin_path *pp, const char *name)
{
    for (size_t d = 0; d < pp->count; d++)
        for (int k = SLUICE_KIND_SOURCE; k <= SLUICE_KIND_SINK; k++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s-%s.so", pp->dirs[d], plugin_kind_name((sluice_kind)k), name);
            if (access(path, F_OK) == 0)
                return 1;
        }
    return 0;
}

static void print_plugin(void *ud, const char *path, const loaded_plugin *p, const char *err)
{
    plugins_listing *l = ud;
    if (l->only && !file_names_plugin(path, l->only))
        return;
    l->shown++;
    if (p == NULL) {
        printf("! %s\n    %s\n\n", path, err);
        l->broken++;
        return;
    }
    const sluice_plugin *d = &p->desc;
    printf("%s %s %s - %s\n    file: %s\n", plugin_kind_name(d->kind), d->name, d->version, d->description,
           path);
    if (p->outputs[0]) {
        printf("    outputs: main");
        for (size_t i = 0; p->outputs[i]; i++)
            printf(", %s", p->outputs[i]);
        printf("\n");
    } else if (d->kind == SLUICE_KIND_SOURCE) {
        printf("    outputs: main, rejected (invalid events, from the engine's decoder)\n");
    }
    if (l->only) {
        /* One plugin: what the engine will hold it to, too. */
        uint32_t abi = d->abi_version;
        printf("    built for plugin ABI %u.%u", abi >> 16, abi & 0xffff);
        if (d->min_host_abi)
            printf(", needs an engine of ABI %u.%u or later", d->min_host_abi >> 16,
                   d->min_host_abi & 0xffff);
        printf("\n    state: %s%s%s\n",
               d->state == SLUICE_STATE_KEPT   ? "kept"
               : d->state == SLUICE_STATE_NONE ? "none"
               : d->snapshot                   ? "undeclared (taken as kept: it has a snapshot hook)"
                                               : "undeclared (taken as none)",
               d->snapshot && d->restore ? ", snapshot and restore" : "",
               d->validate ? "; validates its options" : "");
    }
    if (d->options) {
        /* Indent the option table under its heading. */
        char *help = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&help, &len);
        options_print_help(d->options, mem);
        fclose(mem);
        printf("    options:\n");
        for (char *line = strtok(help, "\n"); line; line = strtok(NULL, "\n"))
            printf("    %s\n", line);
        free(help);
    }
    printf("\n");
}

static int cmd_plugins(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pipeline", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *pipeline_file = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            pipeline_file = optarg;
            break;
        case 'h':
            puts("Usage: sluice plugins [-p PIPELINE.yaml] [NAME]\n"
                 "\n"
                 "Lists every plugin on the search path with its kind, version, outputs and\n"
                 "options (type, default, documentation); with NAME, only the plugins of that\n"
                 "name (of any kind), with the ABI they were built for and their state.\n"
                 "Plugins that fail to load are listed with the reason, and the exit code is\n"
                 "then 3.\n"
                 "\n"
                 "  -p, --pipeline FILE  search as that pipeline does: its plugin_path first");
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fputs("sluice plugins: give at most one plugin name (see sluice plugins --help)\n", stderr);
        return EXIT_USAGE;
    }
    const char *name = optind < argc ? argv[optind] : NULL;
    pipeline_def *def = NULL;
    if (pipeline_file) {
        diag_list d;
        diag_init(&d);
        def = pipeline_def_load(pipeline_file, &d);
        if (def == NULL || d.count) {
            if (d.count == 0)
                fprintf(stderr, "%s: error: cannot read the pipeline\n", pipeline_file);
            diag_print(&d, stderr);
            diag_free(&d);
            pipeline_def_free(def);
            return EXIT_INVALID;
        }
        diag_free(&d);
    }
    plugin_path pp;
    plugin_path_init(&pp, def ? def->plugin_path : NULL, def ? def->nplugin_path : 0);
    printf("Plugin search path:");
    for (size_t i = 0; i < pp.count; i++)
        printf(" %s", pp.dirs[i]);
    printf("\n\n");
    int code = EXIT_OK;
    if (name && !plugin_path_has_file(&pp, name)) {
        /* Say what there is instead, as a pipeline naming it would. */
        char err[2048];
        unsigned all = (1u << SLUICE_KIND_SOURCE) | (1u << SLUICE_KIND_OPERATOR) | (1u << SLUICE_KIND_SINK);
        if (plugin_find(&pp, name, all, err, sizeof err) == NULL)
            fprintf(stderr, "sluice plugins: %s\n", err);
        code = EXIT_INVALID;
    } else {
        plugins_listing l = {name, 0, 0};
        plugin_scan(&pp, print_plugin, &l);
        code = l.broken ? EXIT_INVALID : EXIT_OK;
    }
    plugin_path_free(&pp);
    pipeline_def_free(def);
    return code;
}

/* ---- test ----------------------------------------------------------------- */

static int cmd_test(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs("Usage: sluice test FILE.test.yaml...\n"
              "Runs each test of each file: its pipeline in-process on the test's input events,\n"
              "the records every named sink received and the steps' counters compared with\n"
              "what the test expects (docs/testing.md). Exit codes: 0 all passed, 1 a test\n"
              "failed, 3 an invalid test file or pipeline.\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    int code = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int rc = pipeline_test_file(argv[i], stdout, stderr);
        if (rc > code)
            code = rc;
    }
    return code;
}

int main(int argc, char **argv)
{
    const char *level = getenv("SLUICE_LOG_LEVEL");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("sluice %s (plugin ABI %d.%d)\n", SLUICE_VERSION, SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            level = argv[++i];
        } else {
            fprintf(stderr, "sluice: unknown option '%s' (see sluice --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (level) {
        int l = log_level_parse(level);
        if (l < 0) {
            fprintf(stderr, "sluice: unknown log level '%s' (error, warn, info, debug)\n", level);
            return EXIT_USAGE;
        }
        log_set_level((sluice_log_level)l);
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i];
    if (level == NULL && strcmp(cmd, "test") == 0)
        log_set_level(SLUICE_LOG_WARN); /* a test's pipelines run quietly: only what went wrong */
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    install_signals();
    options_set_misuse_handler(report_option_misuse);
    int code;
    if (strcmp(cmd, "run") == 0)
        code = cmd_run(sub_argc, sub_argv);
    else if (strcmp(cmd, "check") == 0)
        code = cmd_check(sub_argc, sub_argv);
    else if (strcmp(cmd, "graph") == 0)
        code = cmd_graph(sub_argc, sub_argv);
    else if (strcmp(cmd, "plugins") == 0)
        code = cmd_plugins(sub_argc, sub_argv);
    else if (strcmp(cmd, "test") == 0)
        code = cmd_test(sub_argc, sub_argv);
    else if (strcmp(cmd, "broker") == 0)
        code = broker_main(sub_argc, sub_argv, &stop_requested);
    else {
        fprintf(stderr, "sluice: unknown command '%s' (see sluice --help)\n", cmd);
        return EXIT_USAGE;
    }
    plugin_unload_all();
    return code;
}
