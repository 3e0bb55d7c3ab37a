/* The embedded development broker: librdkafka's mock cluster, which speaks
 * the Kafka protocol over loopback TCP. It is an in-memory broker for
 * development, demos and tests, not a Kafka replacement: each partition
 * keeps only about its last 5 MiB or 100,000 messages. */
#ifndef SLUICE_BROKER_H
#define SLUICE_BROKER_H

#include <signal.h>

typedef struct embedded_broker embedded_broker;

/* Start a mock cluster of `brokers` brokers; topics listed in `topics`
 * (comma-separated, may be NULL) are created with `partitions` partitions.
 * Returns NULL with a message in err. */
embedded_broker *broker_start(int brokers, int partitions, const char *topics, char *err, size_t errsz);
/* "127.0.0.1:port,..." (borrowed). */
const char *broker_bootstraps(const embedded_broker *b);
/* Create (more) topics; -1 with err on failure. */
int broker_create_topics(embedded_broker *b, const char *topics, int partitions, char *err, size_t errsz);
/* The mock cluster (rd_kafka_mock_cluster_t *) for fault injection in tests. */
void *broker_mock_cluster(embedded_broker *b);
void broker_stop(embedded_broker *b);

/* The process-wide embedded broker that `brokers: embedded` resolves to,
 * started on first use. */
const char *broker_embedded_bootstraps(char *err, size_t errsz);

/* `sluice broker [--brokers N] [--partitions N] [--topics a,b]` */
int broker_main(int argc, char **argv, const volatile sig_atomic_t *stop);

#endif
