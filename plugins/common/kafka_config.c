#include "kafka_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#define WARN_WINDOW_MS 10000
#define WARNS_PER_WINDOW 5

int kc_is_secret_key(const char *name)
{
    return strcasestr(name, "password") != NULL || strcasestr(name, "secret") != NULL ||
           strcasestr(name, "key") != NULL;
}

const char *kc_bootstrap(kc_host *h, const char *brokers, char *err, size_t errsz)
{
    h->embedded = strcmp(brokers, "embedded") == 0;
    if (!h->embedded)
        return brokers;
    if (!SLUICE_HOST_HAS(h->api, embedded_kafka)) {
        snprintf(err, errsz, "brokers: embedded needs a newer sluice engine; give a bootstrap list");
        return NULL;
    }
    const char *bs = h->api->embedded_kafka(h->ctx, err, errsz);
    return bs;
}

int kc_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err, size_t errsz)
{
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) == RD_KAFKA_CONF_OK)
        return 0;
    /* librdkafka's message may quote the value: keep it out for secrets. */
    if (kc_is_secret_key(name))
        snprintf(err, errsz, "librdkafka refused property '%s' (value hidden)", name);
    else
        snprintf(err, errsz, "librdkafka refused property '%s': %s", name, why);
    return -1;
}

int kc_apply_map(kc_host *h, const sluice_options *opts, rd_kafka_conf_t *conf, const char *const *reserved,
                 char *err, size_t errsz)
{
    size_t n = h->api->opt_count(opts, "config");
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL, *value = NULL;
        if (!h->api->opt_entry(opts, "config", i, &key, &value) || key == NULL)
            continue;
        for (const char *const *r = reserved; *r; r += 2) {
            if (strcmp(key, r[0]) == 0) {
                snprintf(err, errsz, "config: '%s' cannot be set here: %s", key, r[1]);
                return -1;
            }
        }
        if (kc_set(conf, key, value, err, errsz) != 0)
            return -1;
    }
    return 0;
}

int kc_validate_map(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                    const char *const *reserved, rd_kafka_conf_t *conf)
{
    int bad = 0;
    size_t n = api->opt_count(opts, "config");
    for (size_t i = 0; i < n; i++) {
        const char *key = NULL, *value = NULL;
        if (!api->opt_entry(opts, "config", i, &key, &value) || key == NULL)
            continue;
        char where[300];
        snprintf(where, sizeof where, "config.%s", key);
        int is_reserved = 0;
        for (const char *const *r = reserved; *r && !is_reserved; r += 2) {
            if (strcmp(key, r[0]) == 0) {
                api->option_error(ctx, where, "'%s' cannot be set here: %s", key, r[1]);
                is_reserved = 1;
            }
        }
        char err[600];
        if (!is_reserved && kc_set(conf, key, value, err, sizeof err) != 0) {
            api->option_error(ctx, where, "%s", err);
            is_reserved = 1;
        }
        bad |= is_reserved;
    }
    const char *brokers = api->opt_string(opts, "brokers");
    if (brokers == NULL || brokers[0] == '\0') {
        api->option_error(ctx, "brokers", "give a bootstrap list (host:port,...) or 'embedded'");
        bad = 1;
    }
    return bad ? -1 : 0;
}

void kc_log_config(kc_host *h, const sluice_options *opts)
{
    size_t n = h->api->opt_count(opts, "config");
    if (n == 0)
        return;
    char line[1024];
    size_t len = 0;
    line[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof line; i++) {
        const char *key = NULL, *value = NULL;
        if (!h->api->opt_entry(opts, "config", i, &key, &value) || key == NULL)
            continue;
        int w = snprintf(line + len, sizeof line - len, "%s%s=%s", len ? " " : "", key,
                         kc_is_secret_key(key) ? "******" : value);
        if (w > 0)
            len += (size_t)w;
    }
    h->api->log(h->ctx, SLUICE_LOG_INFO, "%s config: %s", h->what, line);
}

void kc_warn_limited(kc_host *h, const char *fmt, ...)
{
    int64_t now = h->api->now_ms(h->ctx);
    if (now - h->window_start >= WARN_WINDOW_MS) {
        if (h->suppressed > 0)
            h->api->log(h->ctx, SLUICE_LOG_WARN, "%d more %s warnings in the last %d s were not shown",
                        h->suppressed, h->what, WARN_WINDOW_MS / 1000);
        h->window_start = now;
        h->window_count = 0;
        h->suppressed = 0;
    }
    if (h->window_count >= WARNS_PER_WINDOW) {
        h->suppressed++;
        return;
    }
    h->window_count++;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    h->api->log(h->ctx, SLUICE_LOG_WARN, "%s", text);
}

/* librdkafka logs: errors and warnings are mostly about connections that
 * come and go, so they are rate limited; the rest is debug detail. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    kc_host *h = rd_kafka_opaque(rk);
    if (h == NULL)
        return;
    /* Connection failures come through error_cb too: say them once. */
    if (strcmp(fac, "FAIL") == 0)
        level = LOG_DEBUG;
    if (level <= LOG_WARNING)
        kc_warn_limited(h, "librdkafka %s: %s: %s", h->what, fac, buf);
    else if (level <= LOG_INFO)
        h->api->log(h->ctx, SLUICE_LOG_INFO, "librdkafka %s: %s: %s", h->what, fac, buf);
    else
        h->api->log(h->ctx, SLUICE_LOG_DEBUG, "librdkafka %s: %s: %s", h->what, fac, buf);
}

/* Client-level errors. Most are transient (a broker down, a connection
 * reset): librdkafka retries them itself. A fatal error is remembered for the
 * plugin to act on in its next hook. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kc_host *h = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char text[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, text, sizeof text);
        if (h->fatal == 0) {
            h->fatal = orig ? orig : RD_KAFKA_RESP_ERR__FATAL;
            snprintf(h->fatal_text, sizeof h->fatal_text, "%s", orig ? text : reason);
        }
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__INVALID_ARG) {
        if (h->fatal == 0) {
            h->fatal = (rd_kafka_resp_err_t)err;
            snprintf(h->fatal_text, sizeof h->fatal_text, "%s", reason);
        }
        return;
    }
    kc_warn_limited(h, "kafka %s: %s", h->what, reason);
}

void kc_install_callbacks(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    /* Log lines wait in a queue the plugin serves, so they reach the host
     * from the pipeline's thread, not librdkafka's. */
    char ignored[128];
    rd_kafka_conf_set(conf, "log.queue", "true", ignored, sizeof ignored);
}

void kc_route_logs(rd_kafka_t *rk) { rd_kafka_set_log_queue(rk, NULL); }

int32_t kc_topic_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_resp_err_t *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int32_t n = 0;
    *err = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 10000) : RD_KAFKA_RESP_ERR__FAIL;
    if (*err == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->topic_cnt == 1) {
        *err = md->topics[0].err;
        if (*err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return n;
}
