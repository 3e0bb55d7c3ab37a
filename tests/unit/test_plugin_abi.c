/* The plugin boundary: the loader refuses broken plugins with a message
 * naming the file and the reason, and a plugin built out of tree from the
 * public header alone loads and runs in a pipeline. */
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "plugin_loader.h"
#include "test_support.h"

#define BROKEN_DIR SLUICE_BINARY_DIR "/tests/plugins"

/* A one-step-sink pipeline using the plugin at `so_path`; returns the exit
 * code of `sluice check` with its stderr in *err. */
static int check_with_sink(const char *so_path, char **err)
{
    char *in = ts_strf("%s/abi-in.jsonl", ts_tmpdir());
    ts_write_file(in, "{\"user_id\":\"u\",\"url\":\"/\",\"ts\":1}\n");
    char *yaml = ts_strf("%s/abi.yaml", ts_tmpdir());
    char *text = ts_strf("steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: %s}\n"
                         "  - name: out\n"
                         "    plugin: %s\n"
                         "    input: clicks\n",
                         in, so_path);
    ts_write_file(yaml, text);
    char *cmd = ts_strf("%s check %s", SLUICE_BIN, yaml);
    int rc = ts_run(cmd, NULL, err);
    free(cmd);
    free(text);
    free(yaml);
    free(in);
    return rc;
}

static void assert_refused(const char *file, const char *reason)
{
    char *err = NULL;
    char *path = ts_strf("%s/%s", BROKEN_DIR, file);
    int rc = check_with_sink(path, &err);
    ck_assert_int_eq(rc, 3);
    ck_assert_msg(strstr(err, file) != NULL, "error does not name %s: %s", file, err);
    ck_assert_msg(strstr(err, reason) != NULL, "error for %s lacks '%s': %s", file, reason, err);
    /* Positioned at the step's plugin key: line 6 of the pipeline. */
    ck_assert_msg(strstr(err, "abi.yaml:6:") != NULL, "error not positioned: %s", err);
    free(err);
    free(path);
}

START_TEST(refuses_other_abi_major) { assert_refused("broken_abi_major.so", "ABI 2.0"); }
END_TEST

START_TEST(refuses_too_small_descriptor) { assert_refused("broken_small_struct.so", "struct_size 24"); }
END_TEST

START_TEST(refuses_missing_entry_symbol) { assert_refused("broken_no_entry.so", "sluice_plugin_entry"); }
END_TEST

START_TEST(refuses_null_descriptor) { assert_refused("broken_null_descriptor.so", "no descriptor"); }
END_TEST

START_TEST(refuses_missing_hook) { assert_refused("broken_no_process.so", "process hook"); }
END_TEST

START_TEST(refuses_invalid_name) { assert_refused("broken_bad_name.so", "Bad Name!"); }
END_TEST

START_TEST(refuses_unknown_state_key) { assert_refused("broken_state_key.so", "unknown state_key 99"); }
END_TEST

START_TEST(refuses_parts_without_a_merging_last_part)
{
    assert_refused("broken_parts.so", "then one keyed by ALL that merges them");
    assert_refused("broken_part_layout.so", "part 1 ('partial', key 6)");
}
END_TEST

START_TEST(refuses_plugin_needing_a_newer_engine)
{
    assert_refused("broken_min_host_abi.so", "needs a sluice engine of plugin ABI 1.999 or later");
}
END_TEST

START_TEST(refuses_contradictory_state_declaration)
{
    assert_refused("broken_state_decl.so", "declares SLUICE_STATE_NONE but has a snapshot hook");
}
END_TEST

START_TEST(refuses_values_in_reserved_slots)
{
    assert_refused("broken_reserved.so", "reserved[2] is not NULL");
}
END_TEST

START_TEST(invalid_reject_reason_stops_the_pipeline_as_a_plugin_bug)
{
    char *path = ts_strf("%s/broken_reason.so", BROKEN_DIR);
    char *err = NULL;
    ck_assert_int_eq(check_with_sink(path, &err), 0); /* loads: the reason is only known at run */
    free(err);
    char *cmd = ts_strf("%s run %s/abi.yaml", SLUICE_BIN, ts_tmpdir());
    ck_assert_int_eq(ts_run(cmd, NULL, &err), 1);
    ck_assert_msg(strstr(err, "plugin bug") && strstr(err, "'bad_reason'") && strstr(err, "'Not Valid!'"),
                  "%s", err);
    free(err);
    free(cmd);
    free(path);
}
END_TEST

START_TEST(refuses_file_that_is_not_a_shared_object)
{
    char *path = ts_strf("%s/garbage.so", ts_tmpdir());
    ts_write_file(path, "this is not an ELF file\n");
    char *err = NULL;
    ck_assert_int_eq(check_with_sink(path, &err), 3);
    ck_assert_msg(strstr(err, "garbage.so") && strstr(err, "cannot load plugin"), "%s", err);
    free(err);
    free(path);
}
END_TEST

START_TEST(create_failure_stops_the_pipeline_with_its_reason)
{
    char *path = ts_strf("%s/broken_create_fails.so", BROKEN_DIR);
    char *err = NULL;
    ck_assert_int_eq(check_with_sink(path, &err), 0); /* valid until it runs */
    free(err);
    char *cmd = ts_strf("%s run %s/abi.yaml", SLUICE_BIN, ts_tmpdir());
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "cannot reach the warehouse") != NULL, "%s", err);
    free(err);
    free(cmd);
    free(path);
}
END_TEST

START_TEST(plugins_command_lists_broken_plugins_with_reasons)
{
    char *out = NULL;
    char *cmd = ts_strf("SLUICE_PLUGIN_PATH=%s %s plugins", BROKEN_DIR, SLUICE_BIN);
    int rc = ts_run(cmd, &out, NULL);
    ck_assert_int_eq(rc, 3);
    ck_assert_msg(strstr(out, "! " BROKEN_DIR "/broken_abi_major.so") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "sink file ") != NULL, "shipped plugins missing: %s", out);
    free(out);
    free(cmd);
}
END_TEST

/* Compile tests/plugins/outoftree_tag.c as a third party would. */
/* Read dir/name whole (malloc'd). */
static char *read_in(const char *dir, const char *name)
{
    char *path = ts_strf("%s/%s", dir, name);
    char *text = ts_read_file(path, NULL);
    free(path);
    return text;
}

static char *build_out_of_tree(const char *dir)
{
    char *so = ts_strf("%s/operator-tag.so", dir);
    char *cmd = ts_strf("mkdir -p %s && cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden "
                        "-I %s/engine/include -o %s %s/tests/plugins/outoftree_tag.c",
                        dir, SLUICE_SOURCE_DIR, so, SLUICE_SOURCE_DIR);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "out-of-tree build failed: %s", err);
    free(err);
    free(cmd);
    return so;
}

START_TEST(out_of_tree_plugin_exports_only_its_entry)
{
    char *dir = ts_strf("%s/oot1", ts_tmpdir());
    char *so = build_out_of_tree(dir);
    free(dir);
    char *cmd = ts_strf("nm -D --defined-only %s | awk '{print $3}'", so);
    char *out = NULL;
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    ck_assert_str_eq(out, "sluice_plugin_entry\n");
    free(out);
    free(cmd);
    free(so);
}
END_TEST

/* A source that lends its messages (ABI 1.1): the host reads them in place,
 * releases each exactly once before the next poll (the plugin fails the
 * pipeline otherwise, and poisons a message once released), and the
 * outputs, keys and dead letters included, are intact. */
START_TEST(lent_messages_are_read_in_place_and_released_once_per_tick)
{
    const char *dir = ts_tmpdir();
    char *yaml = ts_strf("%s/lend.yaml", dir);
    char *text = ts_strf("name: lend\n"
                         "batch_size: 7\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: %s/lending_source.so\n"
                         "    options: {count: 23, per_poll: 7}\n"
                         "    event: {max_future: off}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: clicks\n"
                         "    options: {path: %s/lend-out.txt, truncate: true, with_key: true}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: clicks.rejected\n"
                         "    options: {path: %s/lend-dead.jsonl, truncate: true}\n",
                         BROKEN_DIR, dir, dir);
    ts_write_file(yaml, text);
    char *cmd = ts_strf("%s run --metrics %s/lend-metrics.json %s", SLUICE_BIN, dir, yaml);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "run failed (%d): %s", rc, err);
    ck_assert_msg(strstr(err, "never released") == NULL, "%s", err);
    char want[4096] = "";
    for (int n = 0; n < 23; n++)
        if (n % 5 != 4)
            snprintf(want + strlen(want), sizeof want - strlen(want),
                     "user_id\t{\"user_id\":\"u%d\",\"url\":\"/p%d\",\"ts\":%lld}\n", n, n % 3,
                     1795737600000LL + n * 1000);
    char *out = read_in(dir, "lend-out.txt");
    ck_assert_str_eq(out, want);
    char *dead = read_in(dir, "lend-dead.jsonl");
    ck_assert_msg(strchr(dead, 'X') == NULL, "%s", dead);
    for (int n = 4; n < 23; n += 5) {
        char *raw =
            ts_strf("\"origin\":\"lent:%d\",\"raw\":\"{\\\"user_id\\\":\\\"u%d\\\",\\\"url\\\":\"", n, n);
        ck_assert_msg(strstr(dead, raw) != NULL, "%s not in %s", raw, dead);
        free(raw);
    }
    char *metrics = read_in(dir, "lend-metrics.json");
    ck_assert_msg(strstr(metrics, "\"released\":23") != NULL, "%s", metrics);
    ck_assert_msg(strstr(metrics, "\"released_twice\":0") != NULL, "%s", metrics);
    free(metrics);
    free(dead);
    free(out);
    free(err);
    free(cmd);
    free(text);
    free(yaml);
}
END_TEST

/* lending_ahead: the lending source declaring SLUICE_SOURCE_POLL_AHEAD
 * (ABI 1.8), in a pipeline whose url_count runs beside sessionize's tasks
 * on 2 threads, where a helper polls the next batch while the tick runs. */
static int run_ahead(const char *dir, const char *name, int threads, const char *extra, char **err)
{
    char *yaml = ts_strf("%s/%s.yaml", dir, name);
    char *text = ts_strf("name: %s\n"
                         "batch_size: 50\n"
                         "partitions: 4\n"
                         "threads: %d\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: %s/lending_ahead_source.so\n"
                         "    options: {count: 3000, per_poll: 50, lend_every: 3%s}\n"
                         "    event: {max_future: off, max_out_of_order: 0ms}\n"
                         "  - {name: dedup, plugin: dedup, input: clicks}\n"
                         "  - {name: url_count, plugin: url_count, input: dedup, options: {size: 10s}}\n"
                         "  - {name: sessionize, plugin: sessionize, input: dedup, options: {gap: 5s}}\n"
                         "  - name: counts\n"
                         "    plugin: file\n"
                         "    input: url_count\n"
                         "    options: {path: %s/%s-counts.jsonl, truncate: true}\n"
                         "  - name: sessions\n"
                         "    plugin: file\n"
                         "    input: sessionize\n"
                         "    options: {path: %s/%s-sessions.jsonl, truncate: true}\n"
                         "  - name: dead\n"
                         "    plugin: file\n"
                         "    input: clicks.rejected\n"
                         "    options: {path: %s/%s-dead.jsonl, truncate: true}\n",
                         name, threads, BROKEN_DIR, extra, dir, name, dir, name, dir, name);
    ts_write_file(yaml, text);
    char *cmd =
        ts_strf("SLUICE_PARALLEL_MIN=1 %s run --metrics %s/%s-metrics.json %s", SLUICE_BIN, dir, name, yaml);
    int rc = ts_run(cmd, NULL, err);
    free(cmd);
    free(text);
    free(yaml);
    return rc;
}

START_TEST(a_source_polled_ahead_gives_the_outputs_of_one_thread)
{
    const char *dir = ts_tmpdir();
    char *err = NULL;
    ck_assert_msg(run_ahead(dir, "ahead1", 1, "", &err) == 0, "1 thread: %s", err);
    free(err);
    err = NULL;
    ck_assert_msg(run_ahead(dir, "ahead2", 2, "", &err) == 0, "2 threads: %s", err);
    ck_assert_msg(strstr(err, "never released") == NULL, "%s", err);
    free(err);
    const char *outputs[] = {"counts", "sessions", "dead"};
    for (size_t k = 0; k < 3; k++) {
        char *n1 = ts_strf("ahead1-%s.jsonl", outputs[k]), *n2 = ts_strf("ahead2-%s.jsonl", outputs[k]);
        char *one = read_in(dir, n1), *two = read_in(dir, n2);
        ck_assert_msg(one && two && strlen(one) > 0, "%s: no output", outputs[k]);
        ck_assert_msg(strcmp(one, two) == 0, "%s differs on 2 threads", outputs[k]);
        ck_assert_msg(strchr(two, 'X') == NULL || strstr(two, "XX") == NULL, "released bytes read: %s", two);
        free(one);
        free(two);
        free(n1);
        free(n2);
    }
    /* Every lent message (a third of the polls') released once, also those
     * lent to a poll ahead; and the helper did poll ahead. */
    char *m1 = read_in(dir, "ahead1-metrics.json"), *m2 = read_in(dir, "ahead2-metrics.json");
    ck_assert_msg(strstr(m1, "\"polls_ahead\":0") != NULL, "%s", m1);
    ck_assert_msg(strstr(m2, "\"polls_ahead\":0") == NULL && strstr(m2, "\"polls_ahead\"") != NULL, "%s", m2);
    ck_assert_msg(strstr(m2, "\"released\":1000") != NULL, "%s", m2);
    ck_assert_msg(strstr(m2, "\"released_twice\":0") != NULL, "%s", m2);
    free(m1);
    free(m2);

    /* A poll ahead that calls back into the run loop fails the pipeline,
     * naming the call; the same call from a poll in its turn is fine. */
    err = NULL;
    ck_assert_msg(run_ahead(dir, "ahead_cb1", 1, ", end_partition_at: 2", &err) == 0, "1 thread: %s", err);
    free(err);
    err = NULL;
    ck_assert_int_eq(run_ahead(dir, "ahead_cb2", 2, ", end_partition_at: 2", &err), 1);
    ck_assert_msg(strstr(err, "[ahead_cb2/clicks] error: source_partition_ended called from a poll ahead") !=
                      NULL,
                  "%s", err);
    free(err);
}
END_TEST

START_TEST(out_of_tree_plugin_runs_in_a_pipeline)
{
    const char *dir = ts_tmpdir();
    char *plugdir = ts_strf("%s/oot2", dir);
    free(build_out_of_tree(plugdir));
    char *in = ts_strf("%s/oot-in.jsonl", dir);
    ts_write_file(in, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000,\"extra\":{\"k\":[1,2]}}\n"
                      "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1795737601000}\n"
                      "{\"user_id\":\"u3\",\"url\":\"/c\",\"ts\":1795737602000}\n"
                      "{\"user_id\":\"u4\",\"url\":\"/d\",\"ts\":1795737603000}\n");
    char *yaml = ts_strf("%s/oot.yaml", dir);
    char *text = ts_strf("name: oot\n"
                         "plugin_path: [oot2]\n" /* relative to the pipeline file */
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: %s}\n"
                         "    event: {max_future: off}\n"
                         "  - name: tagged\n"
                         "    plugin: tag\n"
                         "    input: clicks\n"
                         "    options: {label: shop, every: 2}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: tagged\n"
                         "    options: {path: %s/oot-out.jsonl, truncate: true}\n"
                         "  - name: samples\n"
                         "    plugin: file\n"
                         "    input: tagged.sampled\n"
                         "    options: {path: %s/oot-sampled.jsonl, truncate: true}\n",
                         in, dir, dir);
    ts_write_file(yaml, text);
    char *cmd = ts_strf("%s run --metrics %s/oot-metrics.json %s", SLUICE_BIN, dir, yaml);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    ck_assert_msg(rc == 0, "run failed (%d): %s", rc, err);
    char *out = read_in(dir, "oot-out.jsonl");
    ck_assert_str_eq(out, "{\"user_id\":\"u1\",\"url\":\"/"
                          "a\",\"ts\":1795737600000,\"extra\":{\"k\":[1,2]},\"label\":\"shop\"}\n"
                          "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1795737601000,\"label\":\"shop\"}\n"
                          "{\"user_id\":\"u3\",\"url\":\"/c\",\"ts\":1795737602000,\"label\":\"shop\"}\n"
                          "{\"user_id\":\"u4\",\"url\":\"/d\",\"ts\":1795737603000,\"label\":\"shop\"}\n");
    char *sampled = read_in(dir, "oot-sampled.jsonl");
    ck_assert_str_eq(sampled, "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1795737601000}\n"
                              "{\"user_id\":\"u4\",\"url\":\"/d\",\"ts\":1795737603000}\n");
    char *metrics = read_in(dir, "oot-metrics.json");
    ck_assert_msg(strstr(metrics, "\"tagged\":{\"in\":4,\"out\":4,\"tagged\":4}") != NULL, "%s", metrics);
    free(metrics);
    free(sampled);
    free(out);
    free(err);
    free(cmd);
    free(text);
    free(yaml);
    free(in);
    free(plugdir);
}
END_TEST

#define ABI10_DIR SLUICE_BINARY_DIR "/tests/abi10"

/* A plugin built against the frozen ABI 1.0 header runs in this engine,
 * and its state survives a restart through its 1.0 snapshot hooks (it
 * declares no state: having a snapshot hook makes it stateful). */
START_TEST(plugin_built_for_abi_1_0_runs_and_restores_its_state)
{
    const char *dir = ts_tmpdir();
    char *in = ts_strf("%s/abi10-in.jsonl", dir);
    ts_write_file(in, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000}\n"
                      "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1795737601000}\n");
    char *yaml = ts_strf("%s/abi10.yaml", dir);
    char *text = ts_strf("name: abi10\n"
                         "plugin_path: [%s]\n"
                         "state_dir: %s/abi10-state\n"
                         "steps:\n"
                         "  - name: clicks\n"
                         "    plugin: file\n"
                         "    options: {path: %s}\n"
                         "    event: {max_future: off}\n"
                         "  - name: numbered\n"
                         "    plugin: abi10_counter\n"
                         "    input: clicks\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: numbered\n"
                         "    options: {path: %s/abi10-out.jsonl}\n",
                         ABI10_DIR, dir, in, dir);
    ts_write_file(yaml, text);
    char *cmd = ts_strf("%s run %s", SLUICE_BIN, yaml);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    free(err);
    /* More input, a second run: the count goes on from the snapshot. */
    char *before = ts_read_file(in, NULL);
    char *more = ts_strf("%s{\"user_id\":\"u3\",\"url\":\"/c\",\"ts\":1795737602000}\n", before);
    free(before);
    ts_write_file(in, more);
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "%s", err);
    char *out = read_in(dir, "abi10-out.jsonl");
    ck_assert_str_eq(out, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000,\"n\":1}\n"
                          "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":1795737601000,\"n\":2}\n"
                          "{\"user_id\":\"u3\",\"url\":\"/c\",\"ts\":1795737602000,\"n\":3}\n");
    free(out);
    free(err);
    free(cmd);
    free(more);
    free(text);
    free(yaml);
    free(in);
}
END_TEST

/* `sluice plugins NAME` shows one plugin; -p searches the pipeline's
 * plugin_path first, as a run of that pipeline would. */
START_TEST(plugins_command_shows_one_plugin_and_uses_a_pipelines_plugin_path)
{
    const char *dir = ts_tmpdir();
    char *yaml = ts_strf("%s/pp.yaml", dir);
    char *text = ts_strf("plugin_path: [%s]\n"
                         "steps:\n"
                         "  - {name: a, plugin: file, options: {path: x}}\n",
                         ABI10_DIR);
    ts_write_file(yaml, text);
    char *out = NULL, *err = NULL;
    char *cmd = ts_strf("%s plugins abi10_counter", SLUICE_BIN);
    ck_assert_int_eq(ts_run(cmd, &out, &err), 3);
    ck_assert_msg(strstr(err, "unknown source or operator or sink plugin 'abi10_counter'"), "%s", err);
    free(out);
    free(err);
    free(cmd);
    cmd = ts_strf("%s plugins -p %s abi10_counter", SLUICE_BIN, yaml);
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    ck_assert_msg(strstr(out, "Plugin search path: " ABI10_DIR " "), "%s", out);
    ck_assert_msg(strstr(out, "operator abi10_counter 1.0.0"), "%s", out);
    ck_assert_msg(strstr(out, "built for plugin ABI 1.0"), "%s", out);
    ck_assert_msg(strstr(out, "state: undeclared (taken as kept"), "%s", out);
    ck_assert_msg(strstr(out, "sink file") == NULL, "more than the one plugin: %s", out);
    free(out);
    free(cmd);
    /* A name of two kinds shows both. */
    cmd = ts_strf("%s plugins file", SLUICE_BIN);
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    ck_assert_msg(strstr(out, "sink file ") && strstr(out, "source file ") && !strstr(out, "dedup"), "%s",
                  out);
    free(out);
    free(cmd);
    free(text);
    free(yaml);
}
END_TEST

START_TEST(shipped_plugins_export_only_their_entry)
{
    char *cmd =
        ts_strf("for f in %s/*.so; do nm -D --defined-only \"$f\" | awk '{print $3}'; done | sort | uniq -c",
                SLUICE_PLUGIN_DIR);
    char *out = NULL;
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    /* One line: "<count> sluice_plugin_entry". */
    char *first = strchr(out, '\n');
    ck_assert_msg(first != NULL && first[1] == '\0' && strstr(out, " sluice_plugin_entry\n"), "%s", out);
    free(out);
    free(cmd);
}
END_TEST

static void *noop_create(const sluice_host_api *api, sluice_ctx *ctx, const sluice_options *opts,
                         char *errbuf, size_t errbuf_size)
{
    (void)api, (void)ctx, (void)opts, (void)errbuf, (void)errbuf_size;
    return NULL;
}
static void noop_destroy(const sluice_host_api *api, sluice_ctx *ctx, void *self)
{
    (void)api, (void)ctx, (void)self;
}
static sluice_status noop_process(const sluice_host_api *api, sluice_ctx *ctx, void *self,
                                  sluice_batch *batch)
{
    (void)api, (void)ctx, (void)self, (void)batch;
    return SLUICE_OK;
}

/* Found by fuzz/descriptor_fuzz: an option table whose struct_size is no
 * multiple of the struct's alignment had its entries read misaligned. */
START_TEST(refuses_option_table_with_a_misaligned_stride)
{
    const uint32_t stride = (uint32_t)(offsetof(sluice_option_spec, enum_values) + 4);
    _Alignas(sluice_option_spec) char table[2 * sizeof(sluice_option_spec) + 64] = {0};
    sluice_option_spec first = {stride, "size", SLUICE_OPT_INT, "1", 0, "doc", 0, 0, NULL, 0, 0};
    memcpy(table, &first, stride);
    memcpy(table + stride, &stride, sizeof stride); /* the terminator: NULL name */
    sluice_plugin d = {.struct_size = sizeof d,
                       .abi_version = SLUICE_ABI_VERSION,
                       .name = "misaligned",
                       .kind = SLUICE_KIND_SINK,
                       .version = "1",
                       .options = (const sluice_option_spec *)(void *)table,
                       .create = noop_create,
                       .destroy = noop_destroy,
                       .process = noop_process};
    char err[400] = "";
    ck_assert_ptr_null(plugin_from_descriptor(&d, err, sizeof err));
    ck_assert_msg(strstr(err, "not a multiple of its alignment") != NULL, "%s", err);
    /* The same table with a proper stride is accepted. */
    first.struct_size = sizeof first;
    sluice_option_spec ok[2] = {first, SLUICE_OPTION_END};
    d.options = ok;
    loaded_plugin *p = plugin_from_descriptor(&d, err, sizeof err);
    ck_assert_msg(p != NULL, "%s", err);
    plugin_descriptor_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin_abi");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, refuses_other_abi_major);
    tcase_add_test(tc, refuses_too_small_descriptor);
    tcase_add_test(tc, refuses_missing_entry_symbol);
    tcase_add_test(tc, refuses_null_descriptor);
    tcase_add_test(tc, refuses_missing_hook);
    tcase_add_test(tc, refuses_invalid_name);
    tcase_add_test(tc, refuses_unknown_state_key);
    tcase_add_test(tc, refuses_parts_without_a_merging_last_part);
    tcase_add_test(tc, refuses_plugin_needing_a_newer_engine);
    tcase_add_test(tc, refuses_values_in_reserved_slots);
    tcase_add_test(tc, refuses_contradictory_state_declaration);
    tcase_add_test(tc, invalid_reject_reason_stops_the_pipeline_as_a_plugin_bug);
    tcase_add_test(tc, refuses_file_that_is_not_a_shared_object);
    tcase_add_test(tc, create_failure_stops_the_pipeline_with_its_reason);
    tcase_add_test(tc, plugins_command_lists_broken_plugins_with_reasons);
    tcase_add_test(tc, refuses_option_table_with_a_misaligned_stride);
    suite_add_tcase(s, tc);
    TCase *oot = tcase_create("out_of_tree");
    tcase_set_timeout(oot, 60);
    tcase_add_test(oot, out_of_tree_plugin_exports_only_its_entry);
    tcase_add_test(oot, out_of_tree_plugin_runs_in_a_pipeline);
    tcase_add_test(oot, lent_messages_are_read_in_place_and_released_once_per_tick);
    tcase_add_test(oot, a_source_polled_ahead_gives_the_outputs_of_one_thread);
    tcase_add_test(oot, shipped_plugins_export_only_their_entry);
    tcase_add_test(oot, plugin_built_for_abi_1_0_runs_and_restores_its_state);
    tcase_add_test(oot, plugins_command_shows_one_plugin_and_uses_a_pipelines_plugin_path);
    suite_add_tcase(s, oot);
    return ts_run_suite(s);
}
