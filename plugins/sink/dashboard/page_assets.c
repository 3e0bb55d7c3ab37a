#include "page_assets.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEBIAN_CHART_JS "/usr/share/javascript/chart.js/chart.min.js"
#define MAX_CHART_JS (16u << 20)

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            if (cap >= MAX_CHART_JS) {
                errno = EFBIG;
                break;
            }
            cap = cap ? cap * 2 : 262144;
            char *p = realloc(buf, cap);
            if (p == NULL)
                break;
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                break;
            fclose(f);
            *len = n;
            return buf;
        }
    }
    int saved = errno;
    fclose(f);
    free(buf);
    errno = saved;
    return NULL;
}

/* The folder this plugin was loaded from, so that a chart library installed
 * beside it is found wherever the plugins are. */
static int plugin_dir(char *buf, size_t size)
{
    Dl_info info;
    if (dladdr((void *)plugin_dir, &info) == 0 || info.dli_fname == NULL)
        return -1;
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash == NULL)
        return -1;
    snprintf(buf, size, "%.*s", (int)(slash - info.dli_fname), info.dli_fname);
    return 0;
}

static int try_load(page_assets *a, const char *path)
{
    snprintf(a->chart_js_path, sizeof a->chart_js_path, "%s", path);
    a->chart_js = read_whole(path, &a->chart_js_len);
    return a->chart_js != NULL;
}

int assets_load(page_assets *a, const char *configured, char *err, size_t err_size)
{
    memset(a, 0, sizeof *a);
    if (configured != NULL && configured[0] != '\0') {
        if (try_load(a, configured))
            return 0;
        snprintf(err, err_size, "chart_js '%s': %s", configured, strerror(errno));
        return -1;
    }
    char dir[400], path[512];
    if (plugin_dir(dir, sizeof dir) == 0) {
        snprintf(path, sizeof path, "%s/dashboard/chart.min.js", dir);
        if (try_load(a, path))
            return 0;
    }
    try_load(a, DEBIAN_CHART_JS);
    return 0;
}

void assets_free(page_assets *a)
{
    free(a->chart_js);
    a->chart_js = NULL;
}
