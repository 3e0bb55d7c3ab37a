/* Loads a JSON-lines file of click events into a Kafka topic, one message
 * per line, keyed by the event's user_id so that a user's events share a
 * partition (as a web site's producer would key them). bench/run uses it
 * to fill `click-data` before measuring the consumers.
 *
 *     keyed_producer BROKERS TOPIC FILE [-X key=value]...
 *
 * The key is the raw text of the first "user_id" value on the line (a
 * string's contents or a number's digits); a line without one gets no key.
 * Prints one line when every message is delivered:
 *
 *     messages=N bytes=B failed=F wall_s=W
 *
 * Exits 1 when any delivery failed. */
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned long long failed;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && failed++ == 0)
        fprintf(stderr, "keyed_producer: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static int set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "keyed_producer: %s=%s: %s\n", name, value, err);
        return -1;
    }
    return 0;
}

/* The user_id value's text in [line, end), or NULL. */
static const char *user_key(const char *line, const char *end, size_t *len)
{
    static const char field[] = "\"user_id\":";
    const char *p = memmem(line, (size_t)(end - line), field, sizeof field - 1);
    if (p == NULL)
        return NULL;
    p += sizeof field - 1;
    const char *k = p, *q;
    if (p < end && *p == '"') {
        k = p + 1;
        q = memchr(k, '"', (size_t)(end - k));
        if (q == NULL)
            return NULL;
    } else {
        for (q = p; q < end && *q >= '0' && *q <= '9'; q++) {
        }
    }
    *len = (size_t)(q - k);
    return *len > 0 ? k : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: keyed_producer BROKERS TOPIC FILE [-X key=value]...\n", stderr);
        return 2;
    }
    int fd = open(argv[3], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[3]);
        return 1;
    }
    size_t size = (size_t)st.st_size;
    /* The file stays mapped until every message is delivered, so messages
     * point into it instead of being copied. */
    const char *data = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : "";
    if (data == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    close(fd);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *settings[][2] = {
        {"bootstrap.servers", argv[1]},
        {"linger.ms", "20"},
        {"batch.num.messages", "10000"},
        {"queue.buffering.max.messages", "2000000"},
        {"queue.buffering.max.kbytes", "1048576"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (set(conf, settings[i][0], settings[i][1]) != 0)
            return 2;
    for (int i = 4; i < argc; i++) {
        char *eq = i + 1 < argc && strcmp(argv[i], "-X") == 0 ? strchr(argv[i + 1], '=') : NULL;
        if (eq == NULL) {
            fprintf(stderr, "keyed_producer: expected -X key=value, got '%s'\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if (set(conf, argv[i + 1], eq + 1) != 0)
            return 2;
        i++;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "keyed_producer: %s\n", err);
        return 1;
    }

    double t_start = now_s();
    unsigned long long messages = 0, bytes = 0;
    for (const char *line = data, *end = data + size; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        size_t key_len = 0;
        const char *key = user_key(line, stop, &key_len);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_VALUE((void *)line, (size_t)(stop - line)),
                RD_KAFKA_V_KEY(key, key ? key_len : 0), RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "keyed_producer: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 10); /* the local queue is full: let deliveries drain it */
        }
        messages++;
        bytes += (size_t)(stop - line);
        rd_kafka_poll(rk, 0);
        line = stop + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(rk, 120000);
    double wall = now_s() - t_start;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "keyed_producer: flush: %s (%d undelivered)\n", rd_kafka_err2str(e),
                rd_kafka_outq_len(rk));
        failed += (unsigned long long)rd_kafka_outq_len(rk);
    }
    printf("messages=%llu bytes=%llu failed=%llu wall_s=%.3f\n", messages, bytes, failed, wall);
    rd_kafka_destroy(rk);
    return failed ? 1 : 0;
}
