/* docs/semantics.md section 4: results do not depend on batch size. The whole
 * replay pipeline (decode, dedup, url_count, sessionize, dead letters) over a
 * generated stream with disorder, duplicates, late and invalid events gives
 * byte-identical files for batch sizes 1, 7 and 4096: not only after sorting,
 * since fan-in merges by source order. */
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

static const char *const outputs[] = {"url_clicks.jsonl", "window_summary.jsonl", "sessions.jsonl",
                                      "rejected.jsonl"};

static void generate(const char *dir, const char *input)
{
    char *yaml = ts_strf("%s/gen.yaml", dir);
    char *body =
        ts_strf("steps:\n"
                "  - name: gen\n"
                "    plugin: clickgen\n"
                "    options: {count: 30000, users: 300, urls: 50, start: 1795737600000, seed: 11,\n"
                "              event_interval: 50ms, think_time: 20s, duplicates: 0.03, late: 0.02,\n"
                "              invalid: 0.02, disorder: 4s}\n"
                "    event: raw\n"
                "  - name: out\n"
                "    plugin: file\n"
                "    input: gen\n"
                "    options: {path: %s, truncate: true}\n",
                input);
    ts_write_file(yaml, body);
    char *cmd = ts_strf("%s run %s", SLUICE_BIN, yaml);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "generate: %s", err);
    ck_assert_uint_eq(ts_count_lines(input), 30000);
    free(err);
    free(cmd);
    free(body);
    free(yaml);
}

static void replay(const char *input, const char *out_dir, int batch_size)
{
    char *cmd = ts_strf("INPUT=%s OUT_DIR=%s BATCH_SIZE=%d WINDOW=10s GAP=1m ALLOWED_LATENESS=30s "
                        "MAX_OUT_OF_ORDER=2s %s run %s/pipelines/replay.yaml",
                        input, out_dir, batch_size, SLUICE_BIN, SLUICE_SOURCE_DIR);
    char *err = NULL;
    ck_assert_msg(ts_run(cmd, NULL, &err) == 0, "replay with batch size %d: %s", batch_size, err);
    free(err);
    free(cmd);
}

START_TEST(replay_output_is_identical_for_batch_sizes_1_7_4096)
{
    const char *dir = ts_tmpdir();
    char *input = ts_strf("%s/clicks.jsonl", dir);
    generate(dir, input);
    const int sizes[] = {4096, 7, 1};
    char *reference[4] = {NULL};
    for (size_t k = 0; k < 3; k++) {
        char *out_dir = ts_strf("%s/out-%d", dir, sizes[k]);
        replay(input, out_dir, sizes[k]);
        for (size_t f = 0; f < 4; f++) {
            char *path = ts_strf("%s/%s", out_dir, outputs[f]);
            char *text = ts_read_file(path, NULL);
            ck_assert_msg(text != NULL && text[0] != '\0', "%s is empty", path);
            if (k == 0)
                reference[f] = text;
            else {
                ck_assert_msg(strcmp(text, reference[f]) == 0, "%s differs between batch sizes %d and %d",
                              outputs[f], sizes[0], sizes[k]);
                free(text);
            }
            free(path);
        }
        free(out_dir);
    }
    /* The stream exercised what it should: late updates, too-late and
     * duplicate dead letters, and invalid events. */
    ck_assert_msg(strstr(reference[3], "\"reason\":\"too_late\"") != NULL, "no too-late events");
    ck_assert_msg(strstr(reference[3], "\"reason\":\"duplicate\"") != NULL, "no duplicates");
    ck_assert_msg(strstr(reference[3], "\"reason\":\"malformed\"") != NULL, "no malformed events");
    for (size_t f = 0; f < 4; f++)
        free(reference[f]);
    free(input);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batch_independence");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, replay_output_is_identical_for_batch_sizes_1_7_4096);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
