/* The SDK as a plugin author gets it: `cmake --install` into a temporary
 * prefix puts sluice, the plugins, the header, sluice-plugin.pc and the
 * Sluice CMake package there; the installed sluice finds its own plugins
 * from its location and never this build tree; and the template plugin
 * (examples/plugin-template) builds, passes its tests (one through the test
 * driver, libsluice-testing) and installs both with
 * CMake (find_package(Sluice)) and with make (pkg-config). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/plugin.h"
#include "test_support.h"

static char *prefix; /* the install, made once for the suite */

static void install_once(void)
{
    prefix = ts_strf("%s/prefix", ts_tmpdir());
    char *cmd = ts_strf("cmake --install %s --prefix %s", SLUICE_BINARY_DIR, prefix);
    char *err = NULL;
    int rc = ts_run(cmd, NULL, &err);
    if (rc != 0) {
        fprintf(stderr, "install failed: %s\n", err ? err : "");
        exit(1);
    }
    free(err);
    free(cmd);
}

static void assert_file(const char *rel)
{
    char *path = ts_strf("%s/%s", prefix, rel);
    char *text = ts_read_file(path, NULL);
    ck_assert_msg(text != NULL, "not installed: %s", rel);
    free(text);
    free(path);
}

START_TEST(install_puts_engine_plugins_header_and_packages_in_the_prefix)
{
    assert_file("bin/sluice");
    assert_file("lib/sluice/plugins/operator-dedup.so");
    assert_file("lib/sluice/plugins/source-file.so");
    assert_file("include/sluice/plugin.h");
    assert_file("include/sluice/bytes.h");
    assert_file("lib/pkgconfig/sluice-plugin.pc");
    assert_file("include/sluice/testing.h");
    assert_file("lib/pkgconfig/sluice-testing.pc");
    assert_file("lib/libsluice-testing.so");
    assert_file("lib/cmake/Sluice/SluiceConfig.cmake");
    assert_file("lib/cmake/Sluice/SluiceConfigVersion.cmake");
    char *cmd = ts_strf(
        "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --cflags --variable=abi_version sluice-plugin", prefix);
    char *out = NULL;
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    char *abi = ts_strf("%d.%d", SLUICE_ABI_MAJOR, SLUICE_ABI_MINOR); /* the header's, whatever it is */
    ck_assert_msg(strstr(out, abi) != NULL, "%s (want %s)", out, abi);
    free(abi);
    free(out);
    free(cmd);
}
END_TEST

/* Moved elsewhere after install, the engine still finds its plugins: they
 * are looked up relative to the executable, and the build tree is not. */
START_TEST(installed_sluice_finds_its_plugins_relative_to_itself_and_never_the_build_tree)
{
    char *moved = ts_strf("%s/moved", ts_tmpdir());
    char *cmd = ts_strf("cp -r %s %s && %s/bin/sluice plugins", prefix, moved, moved);
    char *out = NULL, *err = NULL;
    int rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 0, "%d: %s%s", rc, out, err);
    char *want = ts_strf("Plugin search path: %s/lib/sluice/plugins\n", moved);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
    ck_assert_msg(strstr(out, SLUICE_BINARY_DIR) == NULL, "looks into the build tree: %s", out);
    ck_assert_msg(strstr(out, "sink file ") != NULL, "%s", out);
    free(want);
    free(out);
    free(err);
    free(cmd);
    free(moved);
}
END_TEST

static char *copy_template(const char *name)
{
    char *dir = ts_strf("%s/%s", ts_tmpdir(), name);
    char *cmd =
        ts_strf("cp -r %s/examples/plugin-template %s && rm -rf %s/build", SLUICE_SOURCE_DIR, dir, dir);
    ck_assert_int_eq(ts_run(cmd, NULL, NULL), 0);
    free(cmd);
    return dir;
}

static void run_ok(const char *cmd)
{
    char *out = NULL, *err = NULL;
    int rc = ts_run(cmd, &out, &err);
    ck_assert_msg(rc == 0, "`%s` failed (%d):\n%s\n%s", cmd, rc, out, err);
    free(out);
    free(err);
}

START_TEST(template_builds_tests_and_installs_with_cmake_find_package)
{
    char *dir = copy_template("tpl-cmake");
    char *dest = ts_strf("%s/tpl-cmake-prefix", ts_tmpdir());
    char *cmd = ts_strf("cd %s && cmake -S . -B build -DCMAKE_PREFIX_PATH=%s -DCMAKE_C_FLAGS=-Werror && "
                        "cmake --build build && cd build && ctest --output-on-failure && "
                        "cmake --install . --prefix %s",
                        dir, prefix, dest);
    run_ok(cmd);
    free(cmd);
    /* Only the entry symbol is exported (sluice_add_plugin hides the rest). */
    cmd =
        ts_strf("nm -D --defined-only %s/lib/sluice/plugins/operator-drop_bots.so | awk '{print $3}'", dest);
    char *out = NULL;
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    ck_assert_str_eq(out, "sluice_plugin_entry\n");
    free(out);
    free(cmd);
    free(dest);
    free(dir);
}
END_TEST

START_TEST(template_builds_tests_and_installs_with_make_and_pkg_config)
{
    char *dir = copy_template("tpl-make");
    char *cmd = ts_strf("cd %s && export PKG_CONFIG_PATH=%s/lib/pkgconfig && make CFLAGS='-O1 -Werror' && "
                        "make check && make install",
                        dir, prefix);
    run_ok(cmd);
    free(cmd);
    /* Installed beside the shipped plugins: the installed sluice knows it by name. */
    cmd = ts_strf("%s/bin/sluice plugins drop_bots", prefix);
    char *out = NULL;
    ck_assert_int_eq(ts_run(cmd, &out, NULL), 0);
    ck_assert_msg(strstr(out, "operator drop_bots 0.1.0") && strstr(out, "patterns (list, required)"), "%s",
                  out);
    free(out);
    free(cmd);
    free(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sdk");
    TCase *tc = tcase_create("install");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, install_once, NULL);
    tcase_add_test(tc, install_puts_engine_plugins_header_and_packages_in_the_prefix);
    tcase_add_test(tc, installed_sluice_finds_its_plugins_relative_to_itself_and_never_the_build_tree);
    tcase_add_test(tc, template_builds_tests_and_installs_with_cmake_find_package);
    tcase_add_test(tc, template_builds_tests_and_installs_with_make_and_pkg_config);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
