/* What the kafka source and sink share: building a librdkafka configuration
 * from plugin options, and routing librdkafka's logs and errors to the host.
 *
 * Both link it (the static library sluice_kafka_config), so they speak
 * about brokers, secrets and client errors the same way.
 *
 * Secrets: the value of any librdkafka property whose name contains
 * "password", "secret" or "key" (sasl.password, ssl.key.password,
 * sasl.oauthbearer.client.secret, ...) is never written to a log or an error
 * message. */
#ifndef SLUICE_KAFKA_CONFIG_H
#define SLUICE_KAFKA_CONFIG_H

#include <sluice/plugin.h>

#include <librdkafka/rdkafka.h>
#include <stdint.h>

/* The host link of a Kafka client. Put it FIRST in the plugin's instance
 * struct and make that struct the rd_kafka_t's opaque: the log and error
 * callbacks find it through rd_kafka_opaque(). */
typedef struct kc_host {
    const sluice_host_api *api;
    sluice_ctx *ctx;
    const char *what;          /* "consumer" or "producer", for messages */
    int embedded;              /* brokers: embedded */
    int64_t window_start;      /* rate limit of warnings: start of the window (ms) */
    int window_count;          /* warnings logged in the window */
    int suppressed;            /* warnings dropped in the window */
    rd_kafka_resp_err_t fatal; /* a fatal client error seen, or 0 */
    char fatal_text[256];
} kc_host;

/* Does this librdkafka property hold a secret (never logged)? */
int kc_is_secret_key(const char *name);

/* The bootstrap list for the `brokers` option: "embedded" asks the host for
 * its development broker. NULL with err on failure. */
const char *kc_bootstrap(kc_host *h, const char *brokers, char *err, size_t errsz);

/* A topic's partition count from the broker's metadata; 0 when it cannot
 * be read (*err says why, also when the topic does not exist). */
int32_t kc_topic_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_resp_err_t *err);

/* Set one property; on failure err names the property and, unless it is a
 * secret, the value. */
int kc_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t errsz);

/* Apply the `config` map option over conf. Keys listed in `reserved` (NULL
 * terminated; the plugin sets them from its own options or needs them for
 * its guarantees) are refused with a message naming the option to use. */
int kc_apply_map(kc_host *h, const sluice_options *opts, rd_kafka_conf_t *conf, const char *const *reserved,
                 char *err, size_t errsz);

/* Route librdkafka's logs and client errors through h (callbacks on conf;
 * set the opaque to the instance). Call before rd_kafka_new. */
void kc_install_callbacks(rd_kafka_conf_t *conf);

/* After rd_kafka_new: log lines are then served by the thread that polls
 * the client, i.e. inside the plugin's hooks. */
void kc_route_logs(rd_kafka_t *rk);

/* A warning that may repeat (broker down, transport errors): at most a few
 * per 10 s are logged, the rest are counted and summarised. */
void kc_warn_limited(kc_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The validate hook's share: every `config` entry is neither reserved nor
 * refused by librdkafka (set into `conf`, a throwaway configuration, with no
 * client made), and brokers is not empty. Each problem is reported with
 * api->option_error at the entry's position. 0 when all is well. */
int kc_validate_map(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                    const char *const *reserved, rd_kafka_conf_t *conf);

/* Log the effective `config` entries at info level, secrets masked. */
void kc_log_config(kc_host *h, const sluice_options *opts);

#endif
