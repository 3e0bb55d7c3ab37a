/* drop_bots through Sluice's test driver (sluice/testing.h): the plugin as
 * the engine runs it, with no pipeline, files or sluice process. Build:
 *   cc -o test_drop_bots test_drop_bots.c $(pkg-config --cflags --libs sluice-testing)
 * and run it with the plugin's path: ./test_drop_bots ./operator-drop_bots.so */
#include <sluice/testing.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static const char *human = "{\"user_id\":\"u1\",\"url\":\"/a\",\"ts\":1000,\"user_agent\":\"Mozilla/5.0\"}";
static const char *bot = "{\"user_id\":\"u2\",\"url\":\"/b\",\"ts\":2000,\"user_agent\":\"Googlebot/2.1\"}";

static sluice_harness *start(const char *plugin, const char *options)
{
    char err[512];
    sluice_harness *h = sluice_harness_new(plugin, err, sizeof err);
    if (h == NULL) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    if (sluice_harness_options(h, options) != 0 || sluice_harness_start(h) != 0) {
        fprintf(stderr, "%s\n", sluice_harness_error(h));
        sluice_harness_free(h);
        return NULL;
    }
    return h;
}

/* Bots are dropped and counted; everything else passes unchanged. */
static void drops_bots_and_counts_them(const char *plugin)
{
    sluice_harness *h = start(plugin, "{patterns: [bot]}");
    if (h == NULL) {
        failures++;
        return;
    }
    sluice_harness_push(h, human);
    sluice_harness_push(h, bot);
    CHECK(sluice_harness_count(h, "main") == 1);
    CHECK(strcmp(sluice_harness_record(h, "main", 0), human) == 0);
    CHECK(sluice_harness_count(h, "rejected") == 0);
    CHECK(sluice_harness_counter(h, "bots") == 1);
    sluice_harness_free(h);
}

/* With action: reject, a bot becomes a dead letter with reason "bot". */
static void rejects_bots_as_dead_letters(const char *plugin)
{
    sluice_harness *h = start(plugin, "{patterns: [bot], action: reject}");
    if (h == NULL) {
        failures++;
        return;
    }
    sluice_harness_push(h, bot);
    CHECK(sluice_harness_count(h, "main") == 0);
    CHECK(sluice_harness_count(h, "rejected") == 1);
    const char *reason = sluice_harness_field(h, "rejected", 0, "reason");
    CHECK(reason != NULL && strcmp(reason, "bot") == 0);
    CHECK(sluice_harness_counter(h, "rejected.bot") == 1);
    sluice_harness_free(h);
}

/* Options are validated as in a pipeline: patterns is required. */
static void refuses_missing_patterns(const char *plugin)
{
    char err[512];
    sluice_harness *h = sluice_harness_new(plugin, err, sizeof err);
    CHECK(h != NULL);
    if (h == NULL)
        return;
    CHECK(sluice_harness_start(h) != 0);
    CHECK(strstr(sluice_harness_error(h), "patterns") != NULL);
    sluice_harness_free(h);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
        return 2;
    }
    drops_bots_and_counts_them(argv[1]);
    rejects_bots_as_dead_letters(argv[1]);
    refuses_missing_patterns(argv[1]);
    if (failures == 0)
        printf("drop_bots: all checks passed\n");
    return failures ? 1 : 0;
}
