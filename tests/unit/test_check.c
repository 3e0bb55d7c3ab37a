/* `sluice check` asks the plugins: each shipped plugin's validate hook
 * reports what its option table cannot (a Kafka property librdkafka refuses,
 * a reserved one, a rule across options) at the option's file:line:column,
 * with no connection made; `--connect` also starts every step. And no state
 * is lost silently: a step that keeps state it cannot snapshot is refused
 * with state_dir, and a checkpoint holding state of a step the pipeline no
 * longer has, or that a plugin refuses, is reported by check and stops a run
 * until --discard-state says to drop it. */
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#define FIXTURES SLUICE_BINARY_DIR "/tests/plugins"

/* Write `text` as dir/name and return its path. */
static char *write_pipeline(const char *name, const char *text)
{
    char *path = ts_strf("%s/%s", ts_tmpdir(), name);
    ts_write_file(path, text);
    return path;
}

/* Run `sluice <args>`; return its exit code, stderr in *err. */
static int sluice(const char *args, char **err)
{
    char *cmd = ts_strf("%s %s", SLUICE_BIN, args);
    char *out = NULL;
    int rc = ts_run(cmd, &out, err);
    free(out);
    free(cmd);
    return rc;
}

static void assert_has(const char *text, const char *want)
{
    ck_assert_msg(text && strstr(text, want) != NULL, "expected '%s' in:\n%s", want, text);
}

START_TEST(kafka_properties_are_checked_at_their_position_without_connecting)
{
    char *yaml = write_pipeline("kafka.yaml", "steps:\n"
                                              "  - name: in\n"
                                              "    plugin: kafka\n"
                                              "    options:\n"
                                              "      brokers: 127.0.0.1:1\n"
                                              "      topics: [clicks]\n"
                                              "      group: g\n"
                                              "      config:\n"
                                              "        fetch.min.bytes: lots\n"
                                              "        enable.auto.commit: 'true'\n"
                                              "        partition.assignment.strategy: cooperative-sticky\n"
                                              "  - name: out\n"
                                              "    plugin: kafka\n"
                                              "    input: in\n"
                                              "    options:\n"
                                              "      brokers: 127.0.0.1:1\n"
                                              "      topic: out\n"
                                              "      config: {no.such.property: 1}\n");
    char *args = ts_strf("check %s", yaml);
    char *err = NULL;
    ck_assert_int_eq(sluice(args, &err), 3);
    assert_has(err, "kafka.yaml:9:26: error: step 'in': config.fetch.min.bytes: librdkafka refused property "
                    "'fetch.min.bytes'");
    assert_has(err,
               "kafka.yaml:10:29: error: step 'in': config.enable.auto.commit: 'enable.auto.commit' cannot "
               "be set here");
    assert_has(err, "kafka.yaml:11:40: error: step 'in': config.partition.assignment.strategy: "
                    "'cooperative-sticky' is not supported");
    assert_has(err,
               "kafka.yaml:18:34: error: step 'out': config.no.such.property: librdkafka refused property "
               "'no.such.property'");
    free(err);
    free(args);
    free(yaml);
}
END_TEST

START_TEST(cross_option_rules_of_shipped_plugins_are_checked)
{
    char *yaml = write_pipeline("rules.yaml", "steps:\n"
                                              "  - name: gen\n"
                                              "    plugin: clickgen\n"
                                              "    options: {duplicates: 0.5, invalid: 0.3, late: 0.4}\n"
                                              "  - name: pg\n"
                                              "    plugin: postgres\n"
                                              "    input: gen\n"
                                              "    options:\n"
                                              "      conninfo: host=/nonexistent\n"
                                              "      tables: {session: url_clicks}\n");
    char *args = ts_strf("check %s", yaml);
    char *err = NULL;
    ck_assert_int_eq(sluice(args, &err), 3);
    assert_has(err, "rules.yaml:4:52: error: step 'gen': late: duplicates + invalid + late is 1.2");
    assert_has(err, "rules.yaml:10:15: error: step 'pg': tables: url_clicks and session both map to table "
                    "'url_clicks'");
    free(err);
    free(args);
    free(yaml);
}
END_TEST

START_TEST(check_connect_starts_every_step)
{
    char *yaml = write_pipeline("connect.yaml", "steps:\n"
                                                "  - name: in\n"
                                                "    plugin: file\n"
                                                "    options: {path: /nonexistent/clicks.jsonl}\n"
                                                "  - name: out\n"
                                                "    plugin: stdout\n"
                                                "    input: in\n");
    char *args = ts_strf("check %s", yaml);
    char *err = NULL;
    ck_assert_int_eq(sluice(args, &err), 0); /* the file is only opened by create */
    free(err);
    free(args);
    args = ts_strf("check --connect %s", yaml);
    ck_assert_int_eq(sluice(args, &err), 3);
    assert_has(err, "connect.yaml:3:13: error: step 'in': cannot start source plugin 'file': cannot open "
                    "'/nonexistent/clicks.jsonl'");
    free(err);
    free(args);
    free(yaml);
}
END_TEST

START_TEST(stateful_step_without_snapshot_is_refused_with_state_dir)
{
    const char *steps = "steps:\n"
                        "  - name: in\n"
                        "    plugin: file\n"
                        "    options: {path: /dev/null}\n"
                        "  - name: keep\n"
                        "    plugin: " FIXTURES "/fixture_stateful_no_snapshot.so\n"
                        "    input: in\n"
                        "  - name: out\n"
                        "    plugin: stdout\n"
                        "    input: keep\n";
    char *plain = write_pipeline("forget.yaml", steps);
    char *text = ts_strf("state_dir: %s/forget-state\n%s", ts_tmpdir(), steps);
    char *with_state = write_pipeline("forget-state.yaml", text);
    char *args = ts_strf("check %s", plain);
    char *err = NULL;
    ck_assert_int_eq(sluice(args, &err), 0);
    free(err);
    free(args);
    args = ts_strf("check %s", with_state);
    ck_assert_int_eq(sluice(args, &err), 3);
    assert_has(err, "forget-state.yaml:7:13: error: step 'keep': state_dir is set, but operator plugin "
                    "'forgetful' keeps state it cannot snapshot");
    free(err);
    free(args);
    free(with_state);
    free(text);
    free(plain);
}
END_TEST

/* A pipeline file -> versioned_state (step `name`, snapshot `encoding`) ->
 * file, with a state folder. */
static char *state_pipeline(const char *file, const char *name, int encoding)
{
    const char *dir = ts_tmpdir();
    char *in = ts_strf("%s/state-in.jsonl", dir);
    ts_write_file(in, "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1795737600000}\n");
    char *text = ts_strf("name: kept\n"
                         "state_dir: %s/kept-state\n"
                         "steps:\n"
                         "  - name: in\n"
                         "    plugin: file\n"
                         "    options: {path: %s}\n"
                         "    event: {max_future: off}\n"
                         "  - name: %s\n"
                         "    plugin: " FIXTURES "/fixture_versioned_state.so\n"
                         "    input: in\n"
                         "    options: {encoding: %d}\n"
                         "  - name: out\n"
                         "    plugin: file\n"
                         "    input: %s\n"
                         "    options: {path: %s/kept-out.jsonl}\n",
                         dir, in, name, encoding, name, dir);
    char *path = write_pipeline(file, text);
    free(text);
    free(in);
    return path;
}

START_TEST(state_of_a_renamed_step_stops_the_run_until_discarded)
{
    char *before = state_pipeline("renamed-1.yaml", "count", 1);
    char *after = state_pipeline("renamed-2.yaml", "counter", 1);
    char *args = ts_strf("run %s", before), *err = NULL;
    ck_assert_msg(sluice(args, &err) == 0, "%s", err);
    free(err);
    free(args);
    /* check says it beforehand, at state_dir (line 2)... */
    args = ts_strf("check %s", after);
    ck_assert_int_eq(sluice(args, &err), 3);
    assert_has(err, "renamed-2.yaml:2:12: error: cannot restore the checkpoint in");
    assert_has(err,
               "holds state of step 'count' (plugin 'versioned_state'), which the pipeline no longer has");
    assert_has(err, "--discard-state count");
    free(err);
    free(args);
    /* ...the run stops rather than lose it... */
    args = ts_strf("run %s", after);
    ck_assert_int_eq(sluice(args, &err), 1);
    assert_has(err, "which the pipeline no longer has");
    free(err);
    free(args);
    /* ...until told to drop it. */
    args = ts_strf("check --discard-state count %s", after);
    ck_assert_int_eq(sluice(args, &err), 0);
    free(err);
    free(args);
    args = ts_strf("run --discard-state count %s", after);
    ck_assert_msg(sluice(args, &err) == 0, "%s", err);
    assert_has(err, "state of step 'count' discarded as asked");
    free(err);
    free(args);
    free(after);
    free(before);
}
END_TEST

START_TEST(state_a_plugin_refuses_stops_the_run_until_discarded)
{
    char *v1 = state_pipeline("enc-1.yaml", "count", 1);
    char *v2 = state_pipeline("enc-2.yaml", "count", 2);
    char *args = ts_strf("run %s", v1), *err = NULL;
    ck_assert_msg(sluice(args, &err) == 0, "%s", err);
    free(err);
    free(args);
    args = ts_strf("check %s", v2);
    ck_assert_int_eq(sluice(args, &err), 3);
    assert_has(err, "enc-2.yaml:9:13: error: step 'count': plugin 'versioned_state' 1.0.0 refuses the state");
    assert_has(err, "--discard-state count");
    free(err);
    free(args);
    args = ts_strf("run %s", v2);
    ck_assert_int_eq(sluice(args, &err), 1);
    assert_has(err, "cannot restore state written by versioned_state 1.0.0 (encoding 1)");
    assert_has(err, "--discard-state count");
    free(err);
    free(args);
    args = ts_strf("run --discard-state count %s", v2);
    ck_assert_msg(sluice(args, &err) == 0, "%s", err);
    free(err);
    free(args);
    /* The state written with encoding 2 is now read by encoding 2. */
    args = ts_strf("check %s", v2);
    ck_assert_int_eq(sluice(args, &err), 0);
    free(err);
    free(args);
    free(v2);
    free(v1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("check");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, kafka_properties_are_checked_at_their_position_without_connecting);
    tcase_add_test(tc, cross_option_rules_of_shipped_plugins_are_checked);
    tcase_add_test(tc, check_connect_starts_every_step);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("state");
    tcase_add_test(st, stateful_step_without_snapshot_is_refused_with_state_dir);
    tcase_add_test(st, state_of_a_renamed_step_stops_the_run_until_discarded);
    tcase_add_test(st, state_a_plugin_refuses_stops_the_run_until_discarded);
    suite_add_tcase(s, st);
    return ts_run_suite(s);
}
