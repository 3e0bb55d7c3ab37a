/* The kafka source and sink through the real `sluice` binary, against a
 * broker this test starts on loopback: keys, origins, committed offsets,
 * where a new group starts, lost data, secrets, refused settings and
 * undeliverable messages. Also the plugins' pure parts, linked as the
 * plugins link them (their own libraries): the key_field scanner and the
 * position table with its snapshot encoding. */
#include "test_kafka_support.h"

#include "kafka_order.h"
#include "kafka_positions.h"
#include "key_field.h"

static char *tmp(const char *name) { return ts_strf("%s/%s", ts_tmpdir(), name); }

/* A kafka source on `topics` (YAML list) in `group` feeding a file of the
 * accepted events and a file of dead letters. */
static char *source_yaml(const char *bootstrap, const char *topics, const char *group, const char *extra)
{
    return ts_strf("steps:\n"
                   "  - name: in\n"
                   "    plugin: kafka\n"
                   "    options: {brokers: '%s', topics: %s, group: %s, stop_at_end: true,\n"
                   "              session_timeout: 4s%s}\n"
                   "    event: {max_future: off}\n"
                   "  - name: accepted\n"
                   "    plugin: file\n"
                   "    input: in\n"
                   "    options: {path: accepted.jsonl, truncate: true}\n"
                   "  - name: rejected\n"
                   "    plugin: file\n"
                   "    input: in.rejected\n"
                   "    options: {path: rejected.jsonl, truncate: true}\n",
                   bootstrap, topics, group, extra);
}

START_TEST(sink_sends_every_record_keyed_by_key_field_and_same_keys_share_a_partition)
{
    embedded_broker *b = kt_broker(4, "clicks");
    char *input = tmp("input.jsonl");
    kt_generate("count: 3000, seed: 5", input);
    char *yaml = ts_strf("steps:\n"
                         "  - name: lines\n"
                         "    plugin: file\n"
                         "    options: {path: '%s'}\n"
                         "    event: raw\n"
                         "  - name: out\n"
                         "    plugin: kafka\n"
                         "    input: lines\n"
                         "    options: {brokers: '%s', topic: clicks, key_field: user_id}\n",
                         input, broker_bootstraps(b));
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("sink.yaml", yaml, "", &err) == 0, "%s", err);
    char *metrics = tmp("sink.yaml.metrics");
    ck_assert_int_eq(kt_metric(metrics, "sink", "out", "delivered"), 3000);
    free(metrics);

    char *out = tmp("topic.txt");
    char *cmd = ts_strf("kcat -C -b '%s' -t clicks -e -o beginning -q -f '%%p\\t%%k\\t%%s\\n' > '%s'",
                        broker_bootstraps(b), out);
    ck_assert_int_eq(ts_run(cmd, NULL, NULL), 0);
    char *buf, *inbuf;
    size_t n, nin;
    char **got = kt_lines(out, &buf, &n);
    char **want = kt_lines(input, &inbuf, &nin);
    ck_assert_uint_eq(n, 3000);
    ck_assert_uint_eq(nin, 3000);
    /* Every key is the value's user_id, and a key always lands on one partition. */
    char **values = malloc(n * sizeof *values);
    char seen_key[64][32];
    int seen_partition[64], nseen = 0;
    for (size_t i = 0; i < n; i++) {
        char *key = strchr(got[i], '\t') + 1;
        char *value = strchr(key, '\t') + 1;
        key[-1] = value[-1] = '\0';
        values[i] = value;
        char user[4100];
        size_t ulen = kt_user_of(value, strlen(value), user, sizeof user);
        if (strstr(value, "\"user_id\":true") != NULL || value[0] != '{')
            ulen = 0; /* not a string or number, or not an object: no key */
        user[ulen] = '\0';
        ck_assert_msg(strcmp(key, user) == 0, "key '%s' for %s", key, value);
        int partition = atoi(got[i]);
        if (strcmp(key, "u-1") == 0 || strcmp(key, "u-2") == 0 || strcmp(key, "u-3") == 0) {
            int k = 0;
            while (k < nseen && strcmp(seen_key[k], key) != 0)
                k++;
            if (k == nseen) {
                snprintf(seen_key[nseen], sizeof seen_key[0], "%s", key);
                seen_partition[nseen++] = partition;
            }
            ck_assert_int_eq(seen_partition[k], partition);
        }
    }
    /* Values are the records byte for byte (raw events pass unchanged). */
    qsort(values, n, sizeof *values, kt_cmp_str);
    qsort(want, nin, sizeof *want, kt_cmp_str);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(values[i], want[i]);
    free(values);
    free(got);
    free(want);
    free(buf);
    free(inbuf);
    free(cmd);
    free(out);
    free(err);
    free(yaml);
    free(input);
    broker_stop(b);
}
END_TEST

/* Producing in file order to hash(user) % 3, the n-th line sent to a
 * partition has offset n - 1 there: dead letters must name exactly that. */
START_TEST(source_reads_each_message_once_with_its_origin_and_resumes_after_the_committed_offset)
{
    embedded_broker *b = kt_broker(3, "clicks");
    const char *bs = broker_bootstraps(b);
    char *input = tmp("input.jsonl");
    kt_generate("count: 4000, seed: 9, invalid: 0.05", input);
    ck_assert_uint_eq(kt_produce_file(bs, "clicks", input, 3), 4000);
    char *yaml = source_yaml(bs, "[clicks]", "readers", "");
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("src.yaml", yaml, "", &err) == 0, "%s", err);
    char *metrics = tmp("src.yaml.metrics");
    ck_assert_int_eq(kt_metric(metrics, "src", "in", "read"), 4000);
    char *accepted_path = tmp("accepted.jsonl"), *rejected_path = tmp("rejected.jsonl");
    size_t accepted = ts_count_lines(accepted_path), rejected = ts_count_lines(rejected_path);
    ck_assert_uint_eq(accepted + rejected, 4000);
    ck_assert_uint_gt(rejected, 100);

    /* Expected origin of every input line. */
    char *inbuf, *rbuf;
    size_t nin, nrej;
    char **lines = kt_lines(input, &inbuf, &nin);
    char **origin = malloc(nin * sizeof *origin);
    int next_offset[3] = {0, 0, 0};
    for (size_t i = 0; i < nin; i++) {
        char user[4100];
        size_t ulen = kt_user_of(lines[i], strlen(lines[i]), user, sizeof user);
        int p = (int)(kt_hash(user, ulen) % 3);
        origin[i] = ts_strf("clicks/%d@%d", p, next_offset[p]++);
    }
    char **dead = kt_lines(rejected_path, &rbuf, &nrej);
    for (size_t i = 0; i < nrej; i++) {
        json_t *dl = json_loads(dead[i], 0, NULL);
        ck_assert_ptr_nonnull(dl);
        const char *o = json_string_value(json_object_get(dl, "origin"));
        const char *raw = json_string_value(json_object_get(dl, "raw"));
        size_t k = 0;
        while (k < nin && strcmp(origin[k], o) != 0)
            k++;
        ck_assert_msg(k < nin, "dead letter with unknown origin %s", o);
        /* raw is cut to 1024 bytes, invalid UTF-8 replaced: compare up to there. */
        size_t same = 0;
        while (raw[same] && raw[same] == lines[k][same] && (unsigned char)raw[same] < 0x80)
            same++;
        ck_assert_msg(same >= 20 || raw[same] == '\0', "origin %s: raw %s is not line %s", o, raw, lines[k]);
        json_decref(dl);
    }

    /* Run again: everything was committed, nothing is read. */
    ck_assert_msg(kt_run_yaml("src.yaml", yaml, "", &err) == 0, "%s", err);
    ck_assert_int_eq(kt_metric(metrics, "src", "in", "read"), 0);
    /* New messages: exactly those are read. */
    char *more = tmp("more.jsonl");
    kt_generate("count: 500, seed: 10", more);
    kt_produce_file(bs, "clicks", more, 3);
    ck_assert_msg(kt_run_yaml("src.yaml", yaml, "", &err) == 0, "%s", err);
    ck_assert_int_eq(kt_metric(metrics, "src", "in", "read"), 500);
    ck_assert_int_eq(kt_metric(metrics, "src", "in", "commit_failures"), 0);

    for (size_t i = 0; i < nin; i++)
        free(origin[i]);
    free(origin);
    free(lines);
    free(dead);
    free(inbuf);
    free(rbuf);
    free(more);
    free(metrics);
    free(accepted_path);
    free(rejected_path);
    free(err);
    free(yaml);
    free(input);
    broker_stop(b);
}
END_TEST

START_TEST(a_new_group_starting_at_latest_skips_what_is_there)
{
    embedded_broker *b = kt_broker(2, "clicks");
    char *input = tmp("input.jsonl");
    kt_generate("count: 300", input);
    kt_produce_file(broker_bootstraps(b), "clicks", input, 2);
    char *yaml = source_yaml(broker_bootstraps(b), "[clicks]", "latecomers", ", start: latest");
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("latest.yaml", yaml, "", &err) == 0, "%s", err);
    char *metrics = tmp("latest.yaml.metrics");
    ck_assert_int_eq(kt_metric(metrics, "latest", "in", "read"), 0);
    free(metrics);
    ck_assert_msg(strstr(err, "@latest") != NULL, "%s", err);
    free(err);
    free(yaml);
    free(input);
    broker_stop(b);
}
END_TEST

/* The embedded broker keeps about 5 MiB per partition: a group that fell
 * further behind than that must hear about it, not skip silently. */
START_TEST(offsets_deleted_before_they_were_read_are_reported_and_counted)
{
    embedded_broker *b = kt_broker(1, "clicks");
    const char *bs = broker_bootstraps(b);
    char *first = tmp("first.jsonl"), *flood = tmp("flood.jsonl");
    kt_generate("count: 100, seed: 1", first);
    kt_generate("count: 45000, seed: 2", flood);
    kt_produce_file(bs, "clicks", first, 1);
    char *yaml = source_yaml(bs, "[clicks]", "slow", "");
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("loss.yaml", yaml, "", &err) == 0, "%s", err);
    char *metrics = tmp("loss.yaml.metrics");
    ck_assert_int_eq(kt_metric(metrics, "loss", "in", "read"), 100);
    kt_produce_file(bs, "clicks", flood, 1);

    int64_t low = -1, high = -1;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[256];
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    ck_assert_int_eq(rd_kafka_query_watermark_offsets(rk, "clicks", 0, &low, &high, 10000), 0);
    rd_kafka_destroy(rk);
    ck_assert_int_gt(low, 100); /* the broker dropped what the group had not read */
    ck_assert_int_eq(high, 45100);

    ck_assert_msg(kt_run_yaml("loss.yaml", yaml, "", &err) == 0, "%s", err);
    char *line = ts_strf("error: DATA LOSS: clicks/0: offsets [100, %lld) were deleted", (long long)low);
    ck_assert_msg(strstr(err, line) != NULL, "no '%s' in:\n%s", line, err);
    ck_assert_int_eq(kt_metric(metrics, "loss", "in", "data_loss.messages"), low - 100);
    ck_assert_int_eq(kt_metric(metrics, "loss", "in", "data_loss.events"), 1);
    ck_assert_int_eq(kt_metric(metrics, "loss", "in", "read"), high - low);
    free(line);
    free(metrics);
    free(err);
    free(yaml);
    free(first);
    free(flood);
    broker_stop(b);
}
END_TEST

/* Two topics, both with a partition 0: their watermarks must be kept apart.
 * tb is an hour ahead of ta. Written ta's first event, then all of tb, then
 * the rest of ta, they are read in that order (oldest message first); were
 * both one stream, tb would carry the watermark an hour past the rest of ta. */
START_TEST(partitions_of_different_topics_keep_separate_watermarks)
{
    embedded_broker *b = kt_broker(1, "ta,tb");
    const char *bs = broker_bootstraps(b);
    char *early = tmp("early.jsonl"), *later = tmp("later.jsonl");
    kt_generate("count: 500, seed: 3, late: 0, invalid: 0, duplicates: 0, event_interval: 100ms", early);
    char *yaml_gen =
        ts_strf("steps:\n"
                "  - {name: clicks, plugin: clickgen, event: raw,\n"
                "     options: {count: 500, seed: 4, late: 0, invalid: 0, duplicates: 0,\n"
                "               event_interval: 100ms, start: %lld}}\n"
                "  - {name: out, plugin: file, input: clicks, options: {path: '%s', truncate: true}}\n",
                KT_START_MS + 3600000, later);
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("gen_later.yaml", yaml_gen, "", &err) == 0, "%s", err);
    char *head = tmp("head.jsonl"), *rest = tmp("rest.jsonl");
    char *split = ts_strf("head -n 1 '%s' > '%s' && tail -n +2 '%s' > '%s'", early, head, early, rest);
    ck_assert_int_eq(ts_run(split, NULL, NULL), 0);
    kt_produce_file(bs, "ta", head, 1);
    kt_sleep_ms(20);
    kt_produce_file(bs, "tb", later, 1);
    kt_sleep_ms(20);
    kt_produce_file(bs, "ta", rest, 1);
    char *yaml =
        ts_strf("steps:\n"
                "  - name: in\n"
                "    plugin: kafka\n"
                "    options: {brokers: '%s', topics: [ta, tb], group: both, stop_at_end: true,\n"
                "              session_timeout: 4s}\n"
                "    event: {max_future: off}\n"
                "  - {name: count, plugin: url_count, input: in}\n"
                "  - {name: out, plugin: file, input: count, options: {path: counts.jsonl, truncate: true}}\n"
                "  - {name: origins, plugin: file, input: in.rejected, options: {path: rej.jsonl}}\n",
                bs);
    ck_assert_msg(kt_run_yaml("two.yaml", yaml, "", &err) == 0, "%s", err);
    char *metrics = tmp("two.yaml.metrics");
    ck_assert_int_eq(kt_metric(metrics, "two", "in", "read"), 1000);
    ck_assert_int_eq(kt_metric(metrics, "two", "count", "in"), 1000);
    long long too_late = kt_metric(metrics, "two", "count", "rejected.too_late");
    ck_assert_msg(too_late <= 0, "%lld events too late", too_late);
    free(metrics);
    free(err);
    free(yaml);
    free(yaml_gen);
    free(split);
    free(head);
    free(rest);
    free(early);
    free(later);
    broker_stop(b);
}
END_TEST

START_TEST(secret_config_values_never_reach_the_logs)
{
    embedded_broker *b = kt_broker(1, "clicks");
    char *yaml = ts_strf("steps:\n"
                         "  - {name: gen, plugin: clickgen, event: raw, options: {count: 10}}\n"
                         "  - name: out\n"
                         "    plugin: kafka\n"
                         "    input: gen\n"
                         "    options:\n"
                         "      brokers: '%s'\n"
                         "      topic: clicks\n"
                         "      config: {sasl.password: hunter2-secret, ssl.key.password: k3y-secret,\n"
                         "               sasl.username: visible-user}\n",
                         broker_bootstraps(b));
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("secret.yaml", yaml, "SLUICE_LOG_LEVEL=debug", &err) == 0, "%s", err);
    ck_assert_msg(strstr(err, "sasl.password=******") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "sasl.username=visible-user") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "hunter2") == NULL && strstr(err, "k3y-secret") == NULL, "%s", err);

    /* Refused before the run (the validate hook, exit 3): the error names
     * the property, never the secret. */
    char *bad = ts_strf("steps:\n"
                        "  - name: in\n"
                        "    plugin: kafka\n"
                        "    options: {brokers: '%s', topics: [clicks], group: g,\n"
                        "              config: {sasl.password: hunter2-secret, no.such.property: 1}}\n"
                        "  - {name: out, plugin: stdout, input: in}\n",
                        broker_bootstraps(b));
    ck_assert_int_eq(kt_run_yaml("bad.yaml", bad, "", &err), 3);
    ck_assert_msg(strstr(err, "no.such.property") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "hunter2") == NULL, "%s", err);
    free(bad);
    free(err);
    free(yaml);
    broker_stop(b);
}
END_TEST

START_TEST(settings_the_plugins_rely_on_are_refused_in_config)
{
    char *src = ts_strf("steps:\n"
                        "  - name: in\n"
                        "    plugin: kafka\n"
                        "    options: {brokers: '127.0.0.1:1', topics: [t], group: g,\n"
                        "              config: {enable.auto.commit: 'true'}}\n"
                        "  - {name: out, plugin: stdout, input: in}\n");
    char *err = NULL;
    ck_assert_int_eq(kt_run_yaml("autocommit.yaml", src, "", &err), 3);
    ck_assert_msg(
        strstr(err, "'enable.auto.commit' cannot be set here: offsets are committed at checkpoints only"),
        "%s", err);
    char *coop = ts_strf("steps:\n"
                         "  - name: in\n"
                         "    plugin: kafka\n"
                         "    options: {brokers: '127.0.0.1:1', topics: [t], group: g,\n"
                         "              config: {partition.assignment.strategy: cooperative-sticky}}\n"
                         "  - {name: out, plugin: stdout, input: in}\n");
    ck_assert_int_eq(kt_run_yaml("coop.yaml", coop, "", &err), 3);
    ck_assert_msg(strstr(err, "eager rebalancing") != NULL, "%s", err);
    char *sink = ts_strf("steps:\n"
                         "  - {name: gen, plugin: clickgen, event: raw, options: {count: 1}}\n"
                         "  - name: out\n"
                         "    plugin: kafka\n"
                         "    input: gen\n"
                         "    options: {brokers: '127.0.0.1:1', topic: t, config: {acks: '1'}}\n");
    ck_assert_int_eq(kt_run_yaml("acks.yaml", sink, "", &err), 3);
    ck_assert_msg(strstr(err, "'acks' cannot be set here: use the `acks` option") != NULL, "%s", err);
    free(err);
    free(src);
    free(coop);
    free(sink);
}
END_TEST

/* Nothing listens on the port: the messages cannot be delivered, and the
 * pipeline must fail saying so rather than drop them. */
START_TEST(undeliverable_messages_stop_the_pipeline_with_an_error)
{
    char *yaml = ts_strf("steps:\n"
                         "  - {name: gen, plugin: clickgen, event: raw, options: {count: 50}}\n"
                         "  - name: out\n"
                         "    plugin: kafka\n"
                         "    input: gen\n"
                         "    options: {brokers: '127.0.0.1:1', topic: t,\n"
                         "              config: {message.timeout.ms: '1500'}}\n");
    char *err = NULL;
    double t0 = kt_now();
    ck_assert_int_eq(kt_run_yaml("nowhere.yaml", yaml, "", &err), 1);
    ck_assert_msg(kt_now() - t0 < 30, "took %.1f s", kt_now() - t0);
    ck_assert_msg(strstr(err, "delivery to t/") != NULL && strstr(err, "failed for good") != NULL, "%s", err);
    free(err);
    free(yaml);
}
END_TEST

/* The embedded broker silently drops a partition's oldest data past about
 * 5 MiB: the sink says so, once per partition. */
START_TEST(the_sink_warns_once_per_partition_past_what_the_embedded_broker_keeps)
{
    char *yaml =
        ts_strf("steps:\n"
                "  - {name: gen, plugin: clickgen, event: raw, options: {count: 150000}}\n"
                "  - {name: out, plugin: kafka, input: gen, options: {topic: lots, key_field: user_id}}\n");
    char *err = NULL;
    ck_assert_msg(kt_run_yaml("lots.yaml", yaml, "", &err) == 0, "%s", err);
    size_t warnings = 0;
    char seen[8] = {0};
    for (const char *p = err; (p = strstr(p, "the embedded broker keeps only")) != NULL; p++)
        warnings++;
    /* Auto-created topics have 4 partitions; each got about 7 MiB. */
    ck_assert_uint_eq(warnings, 4);
    for (int i = 0; i < 4; i++) {
        char *name = ts_strf("warn: lots/%d has received", i);
        seen[i] = strstr(err, name) != NULL;
        ck_assert_msg(seen[i], "no warning for partition %d:\n%s", i, err);
        free(name);
    }
    free(err);
    free(yaml);
}
END_TEST

/* ---- the pure parts ------------------------------------------------------ */

static const char *key_of(const char *json, const char *name)
{
    static char buf[64];
    long n = key_field_from_json(json, strlen(json), name, buf, sizeof buf - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}

/* How many of the input lines (two files) neither output holds. */
static size_t rebalance_missing(char **in[2], const size_t nin[2], char **got[2], const size_t nout[2])
{
    size_t n = nout[0] + nout[1], missing = 0;
    char **all = malloc((n ? n : 1) * sizeof *all);
    memcpy(all, got[0], nout[0] * sizeof *all);
    memcpy(all + nout[0], got[1], nout[1] * sizeof *all);
    qsort(all, n, sizeof *all, kt_cmp_str);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < nin[k]; i++)
            missing += bsearch(&in[k][i], all, n, sizeof *all, kt_cmp_str) == NULL;
    free(all);
    return missing;
}

/* Rebalancing: a second member joins the group mid-run. The first gives up
 * the partitions it loses (revoked: they no longer count in its watermark),
 * the two share the topic, and between them every message is read, each
 * partition going on from where its previous owner stopped (at least once
 * across the handover). */
START_TEST(a_second_member_takes_half_the_partitions_and_nothing_is_lost)
{
    embedded_broker *b = kt_broker(6, "clicks");
    const char *bs = broker_bootstraps(b);
    char *before = tmp("rb-before.jsonl"), *after = tmp("rb-after.jsonl");
    kt_generate("count: 6000, seed: 31", before);
    kt_generate("count: 6000, seed: 32", after);
    ck_assert_uint_eq(kt_produce_file(bs, "clicks", before, 6), 6000);
    pid_t pid[2];
    char *out[2], *err[2];
    for (int i = 0; i < 2; i++) {
        out[i] = ts_strf("%s/rb-out-%d.jsonl", ts_tmpdir(), i);
        err[i] = ts_strf("%s/rb-%d.err", ts_tmpdir(), i);
        char *yaml_path = ts_strf("%s/rb-%d.yaml", ts_tmpdir(), i);
        char *yaml =
            ts_strf("name: member%d\n"
                    "checkpoint_interval: 500ms\n"
                    "steps:\n"
                    "  - name: in\n"
                    "    plugin: kafka\n"
                    "    options: {brokers: '%s', topics: [clicks], group: rebalance, session_timeout: 4s}\n"
                    "    event: raw\n"
                    "  - name: out\n"
                    "    plugin: file\n"
                    "    input: in\n"
                    "    options: {path: '%s', truncate: true, flush_interval: 100ms}\n",
                    i, bs, out[i]);
        ts_write_file(yaml_path, yaml);
        char *cmd = ts_strf("'%s' run '%s'", SLUICE_BIN, yaml_path);
        char *stdout_path = ts_strf("%s/rb-%d.out", ts_tmpdir(), i);
        pid[i] = kt_spawn(cmd, stdout_path, err[i]);
        ck_assert_msg(
            kt_wait_for_text(err[i], i == 0 ? "assigned 6 partition(s)" : "assigned 3 partition(s)", 30),
            "member %d got no (or not its share of) partitions", i);
        free(stdout_path);
        free(cmd);
        free(yaml);
        free(yaml_path);
    }
    ck_assert_msg(kt_wait_for_text(err[0], "revoked 6 partition(s)", 10),
                  "the first member kept its partitions");
    ck_assert_msg(kt_wait_for_text(err[0], "assigned 3 partition(s)", 10),
                  "the first member got no share back");
    ck_assert_uint_eq(kt_produce_file(bs, "clicks", after, 6), 6000);

    /* Both inputs, each line at least once in the two outputs together. */
    char *inbuf[2], *outbuf[2];
    size_t nin[2], nout[2];
    char **in[2] = {kt_lines(before, &inbuf[0], &nin[0]), kt_lines(after, &inbuf[1], &nin[1])};
    char **got[2] = {NULL, NULL};
    size_t missing = 12000;
    for (double deadline = kt_now() + 60; missing > 0 && kt_now() < deadline; kt_sleep_ms(300)) {
        for (int i = 0; i < 2; i++) {
            if (got[i]) {
                free(got[i]);
                free(outbuf[i]);
            }
            got[i] = kt_lines(out[i], &outbuf[i], &nout[i]);
        }
        missing = rebalance_missing(in, nin, got, nout);
    }
    for (int i = 0; i < 2; i++) {
        kill(pid[i], SIGTERM);
        ck_assert_int_eq(kt_wait(pid[i], 30), 0);
    }
    char *log0 = ts_read_file(err[0], NULL), *log1 = ts_read_file(err[1], NULL);
    ck_assert_msg(missing == 0, "%zu of 12000 messages read by neither member (%zu + %zu lines):\n%s\n%s",
                  missing, nout[0], nout[1], log0, log1);
    ck_assert_uint_gt(nout[1], 0);
    free(log0);
    free(log1);
    for (int i = 0; i < 2; i++) {
        free(in[i]);
        free(inbuf[i]);
        free(got[i]);
        free(outbuf[i]);
        free(out[i]);
        free(err[i]);
    }
    free(before);
    free(after);
    broker_stop(b);
}
END_TEST

START_TEST(key_field_finds_top_level_members_only)
{
    ck_assert_str_eq(key_of("{\"user_id\":\"u-1\",\"url\":\"x\"}", "user_id"), "u-1");
    ck_assert_str_eq(key_of(" { \"a\" : {\"user_id\":\"inner\"}, \"user_id\" : 42 } ", "user_id"), "42");
    ck_assert_str_eq(
        key_of("{\"a\":[1,{\"b\":\"}\"}],\"user_id\":\"q\\\"\\u00e9\\ud83d\\ude00\"}", "user_id"),
        "q\"\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_str_eq(key_of("{\"u\\u0073er_id\":\"escaped-name\"}", "user_id"), "escaped-name");
    ck_assert_ptr_null(key_of("{\"a\":{\"user_id\":\"inner\"}}", "user_id"));
    ck_assert_ptr_null(key_of("{\"user_id\":true}", "user_id"));
    ck_assert_ptr_null(key_of("{\"user_id\":null}", "user_id"));
    ck_assert_ptr_null(key_of("[\"user_id\",\"x\"]", "user_id"));
    ck_assert_ptr_null(key_of("{\"user_id\":\"unterminated", "user_id"));
    ck_assert_ptr_null(key_of("not json", "user_id"));
    ck_assert_ptr_null(key_of("{\"user_id\":\"far too long for the sixty-three byte key buffer of this test, "
                              "by quite a few bytes\"}",
                              "user_id"));
}
END_TEST

START_TEST(positions_survive_a_snapshot_and_are_applied_once)
{
    const char *topics[] = {"a", "b"};
    kpos_table t;
    ck_assert_int_eq(kpos_init(&t, topics, 2), 0);
    kpart *a3 = kpos_get(&t, "a", 3), *b0 = kpos_get(&t, "b", 0), *c1 = kpos_get(&t, "c", 1);
    ck_assert_int_eq(a3->id, 3);
    ck_assert_int_eq(b0->id, 100000);
    ck_assert_int_eq(c1->id, 200001); /* topics met later come after the configured ones */
    ck_assert_str_eq(a3->origin, "a/3@");
    a3->assigned = b0->assigned = 1;
    a3->next = 17;
    b0->next = -1; /* nothing known: not part of the snapshot */
    size_t size;
    void *data = kpos_encode(&t, malloc, &size);
    ck_assert_uint_eq(size, 4 + 2 + 1 + 4 + 8);

    kpos_table u;
    kpos_init(&u, topics, 2);
    ck_assert_int_eq(kpos_decode(&u, data, size), 0);
    ck_assert_int_eq(kpos_take_restored(&u, "a", 3), 17);
    ck_assert_int_eq(kpos_take_restored(&u, "a", 3), -1);
    ck_assert_int_eq(kpos_decode(&u, data, size - 1), -1); /* truncated */
    unsigned char *bad = malloc(size);
    memcpy(bad, data, size);
    bad[0] = 2; /* says two entries, holds one */
    ck_assert_int_eq(kpos_decode(&u, bad, size), -1);
    /* A count far beyond what the bytes hold is refused before anything is
     * allocated for it (found by fuzz/restore_fuzz: it asked for 24 GB). */
    memset(bad, 0xff, 4);
    ck_assert_int_eq(kpos_decode(&u, bad, size), -1);
    /* So is a topic name with a NUL in it (it read back as "", which its
     * own snapshot then refused). */
    memcpy(bad, data, size);
    bad[6] = '\0';
    ck_assert_int_eq(kpos_decode(&u, bad, size), -1);
    free(bad);
    free(data);
    kpos_free(&u);
    kpos_free(&t);
}
END_TEST

START_TEST(partitions_are_read_oldest_timestamp_first_and_in_turn_among_equals)
{
    const char *topics[] = {"t"};
    kpos_table t;
    kpos_init(&t, topics, 1);
    korder o = {0};
    enum { PARTS = 40 };
    kpart *p[PARTS];
    /* Partition i holds the timestamps i, i+PARTS, i+2*PARTS... except that
     * partition 0 has one out of order (a head that moves earlier), and
     * partitions 1 and 2 share timestamps. */
    for (int i = 0; i < PARTS; i++) {
        p[i] = kpos_get(&t, "t", i);
        for (int k = 0; k < 5; k++) {
            int64_t ts = i == 2 ? 1 + k * PARTS : i + k * PARTS;
            if (i == 0 && k == 1)
                ts = 3 * PARTS; /* then k=2 is 2*PARTS: earlier */
            kpending_push(&p[i]->pending, p[i], ts);
            if (p[i]->pending.len == 1)
                ck_assert_int_eq(korder_update(&o, p[i]), 0);
        }
    }
    int64_t last = INT64_MIN;
    int served_1 = 0, served_2 = 0, alternations = 0, prev = -1;
    size_t taken = 0;
    for (kpart *next; (next = korder_next(&o)) != NULL; taken++) {
        int64_t ts = kpending_head_ts(&next->pending);
        /* Never a head younger than another partition's head. */
        for (int i = 0; i < PARTS; i++)
            if (p[i]->pending.len)
                ck_assert_int_le(ts, kpending_head_ts(&p[i]->pending));
        if (next == p[0] && ts == 3 * PARTS)
            ck_assert_int_ge(ts, last); /* the out-of-order one comes when it is the oldest */
        last = ts;
        if (next == p[1] || next == p[2]) {
            int who = next == p[1] ? 1 : 2;
            served_1 += who == 1;
            served_2 += who == 2;
            alternations += prev != -1 && prev != who;
            prev = who;
        }
        ck_assert_ptr_eq(kpending_pop(&next->pending), next);
        ck_assert_int_eq(korder_update(&o, next), 0);
    }
    ck_assert_uint_eq(taken, PARTS * 5);
    ck_assert_int_eq(served_1, 5);
    ck_assert_int_eq(served_2, 5);
    ck_assert_int_ge(alternations, 9); /* equal timestamps: taken in turn */
    /* A partition emptied at once (a revoke) leaves the order. */
    kpending_push(&p[5]->pending, p[5], 7);
    korder_update(&o, p[5]);
    kpending_push(&p[6]->pending, p[6], 9);
    korder_update(&o, p[6]);
    kpending_pop(&p[5]->pending);
    korder_update(&o, p[5]);
    ck_assert_ptr_eq(korder_next(&o), p[6]);
    kpending_pop(&p[6]->pending);
    korder_update(&o, p[6]);
    ck_assert_ptr_null(korder_next(&o));
    korder_free(&o);
    kpos_free(&t);
}
END_TEST

START_TEST(a_checkpoint_never_commits_for_a_partition_reassigned_since)
{
    const char *topics[] = {"t"};
    kpos_table t;
    kpos_init(&t, topics, 1);
    kpart *p0 = kpos_get(&t, "t", 0), *p1 = kpos_get(&t, "t", 1);
    p0->assigned = p1->assigned = 1;
    p0->next = 10;
    p1->next = 20;
    ck_assert_int_eq(kpos_checkpoint_begin(&t, 1), 0);
    p0->next = 11;
    p1->assigned = 0; /* revoked, then assigned again: a new generation */
    p1->assigned = 1;
    p1->generation++;
    size_t valid;
    kpos_checkpoint *cp = kpos_checkpoint_take(&t, 1, &valid);
    ck_assert_ptr_nonnull(cp);
    ck_assert_uint_eq(valid, 1);
    ck_assert_ptr_eq(cp->entries[0].part, p0);
    ck_assert_int_eq(cp->entries[0].offset, 10); /* the position at begin, not now */
    kpos_checkpoint_done(&t, 1);
    ck_assert_ptr_null(kpos_checkpoint_take(&t, 1, &valid));
    kpos_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_plugins");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, key_field_finds_top_level_members_only);
    tcase_add_test(pure, positions_survive_a_snapshot_and_are_applied_once);
    tcase_add_test(pure, a_checkpoint_never_commits_for_a_partition_reassigned_since);
    tcase_add_test(pure, partitions_are_read_oldest_timestamp_first_and_in_turn_among_equals);
    suite_add_tcase(s, pure);
    TCase *tc = tcase_create("broker");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sink_sends_every_record_keyed_by_key_field_and_same_keys_share_a_partition);
    tcase_add_test(tc, source_reads_each_message_once_with_its_origin_and_resumes_after_the_committed_offset);
    tcase_add_test(tc, a_new_group_starting_at_latest_skips_what_is_there);
    tcase_add_test(tc, offsets_deleted_before_they_were_read_are_reported_and_counted);
    tcase_add_test(tc, partitions_of_different_topics_keep_separate_watermarks);
    tcase_add_test(tc, secret_config_values_never_reach_the_logs);
    tcase_add_test(tc, settings_the_plugins_rely_on_are_refused_in_config);
    tcase_add_test(tc, undeliverable_messages_stop_the_pipeline_with_an_error);
    tcase_add_test(tc, the_sink_warns_once_per_partition_past_what_the_embedded_broker_keeps);
    tcase_add_test(tc, a_second_member_takes_half_the_partitions_and_nothing_is_lost);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
