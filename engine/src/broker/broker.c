#include "broker.h"

#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

struct embedded_broker {
    rd_kafka_t *rk; /* owns the mock cluster's threads */
    rd_kafka_mock_cluster_t *cluster;
};

embedded_broker *broker_start(int brokers, int partitions, const char *topics, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* A quiet handle: it only hosts the cluster. */
    if (rd_kafka_conf_set(conf, "log_level", "3", err, errsz) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errsz);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, brokers);
    if (cluster == NULL) {
        snprintf(err, errsz, "cannot start the embedded broker (librdkafka mock cluster)");
        rd_kafka_destroy(rk);
        return NULL;
    }
    embedded_broker *b = xcalloc(1, sizeof *b);
    b->rk = rk;
    b->cluster = cluster;
    if (topics && broker_create_topics(b, topics, partitions, err, errsz) != 0) {
        broker_stop(b);
        return NULL;
    }
    return b;
}

const char *broker_bootstraps(const embedded_broker *b)
{
    return rd_kafka_mock_cluster_bootstraps(b->cluster);
}

int broker_create_topics(embedded_broker *b, const char *topics, int partitions, char *err, size_t errsz)
{
    char *copy = xstrdup(topics), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t == '\0')
            continue;
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->cluster, t, partitions, 1);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(err, errsz, "cannot create topic '%s': %s", t, rd_kafka_err2str(e));
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

void *broker_mock_cluster(embedded_broker *b) { return b->cluster; }

void broker_stop(embedded_broker *b)
{
    if (b == NULL)
        return;
    rd_kafka_mock_cluster_destroy(b->cluster);
    rd_kafka_destroy(b->rk);
    free(b);
}

#define EMBEDDED_TOPICS "click-data,click-insights,session-stats,click-rejects"
#define EMBEDDED_PARTITIONS 6

static pthread_mutex_t embedded_lock = PTHREAD_MUTEX_INITIALIZER;
static embedded_broker *embedded;

static void stop_embedded(void)
{
    broker_stop(embedded);
    embedded = NULL;
}

const char *broker_embedded_bootstraps(char *err, size_t errsz)
{
    pthread_mutex_lock(&embedded_lock);
    if (embedded == NULL) {
        /* The shipped pipelines' topics, with the partitions a real
         * deployment would give them (others are auto-created with 4). */
        embedded = broker_start(1, EMBEDDED_PARTITIONS, EMBEDDED_TOPICS, err, errsz);
        if (embedded) {
            atexit(stop_embedded);
            log_msg(SLUICE_LOG_INFO, NULL, "embedded broker (in-memory, for development) listening on %s",
                    broker_bootstraps(embedded));
        }
    }
    const char *bs = embedded ? broker_bootstraps(embedded) : NULL;
    pthread_mutex_unlock(&embedded_lock);
    return bs;
}

static const char broker_help[] =
    "Usage: sluice broker [--brokers N] [--partitions N] [--topics a,b,...]\n"
    "\n"
    "Runs librdkafka's mock Kafka cluster on loopback, prints its bootstrap\n"
    "address on stdout (one line), and runs until SIGINT/SIGTERM. Any Kafka client\n"
    "(kcat, other sluice processes) can use it.\n"
    "\n"
    "This is an in-memory development broker, not Kafka: nothing is persisted,\n"
    "and each partition keeps only about the last 5 MiB or 100,000 messages,\n"
    "whichever is smaller; older messages are silently dropped. A topic loaded\n"
    "ahead of a run must have enough partitions (about 30,000 events of 165 bytes\n"
    "each per partition), or the run must consume while producing.\n"
    "Topics not created here are auto-created with 4 partitions on first use.\n"
    "\n"
    "  --brokers N     brokers in the cluster (default 1)\n"
    "  --partitions N  partitions of each --topics topic (default 6)\n"
    "  --topics LIST   topics to create, comma-separated\n";

int broker_main(int argc, char **argv, const volatile sig_atomic_t *stop)
{
    static const struct option longopts[] = {{"brokers", required_argument, NULL, 'b'},
                                             {"partitions", required_argument, NULL, 'p'},
                                             {"topics", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int brokers = 1, partitions = 6, c;
    const char *topics = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:p:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = atoi(optarg);
            break;
        case 'p':
            partitions = atoi(optarg);
            break;
        case 't':
            topics = optarg;
            break;
        case 'h':
            fputs(broker_help, stdout);
            return 0;
        default:
            fputs(broker_help, stderr);
            return 2;
        }
    }
    if (optind < argc || brokers < 1 || brokers > 64 || partitions < 1 || partitions > 10000) {
        fprintf(stderr, "sluice broker: --brokers must be 1..64 and --partitions 1..10000\n%s", broker_help);
        return 2;
    }
    char err[512];
    embedded_broker *b = broker_start(brokers, partitions, topics, err, sizeof err);
    if (b == NULL) {
        fprintf(stderr, "sluice broker: %s\n", err);
        return 1;
    }
    printf("%s\n", broker_bootstraps(b));
    fflush(stdout);
    while (!*stop)
        usleep(100 * 1000);
    broker_stop(b);
    return 0;
}
