/* What GET / and GET /chart.js serve: the page, built into the plugin from
 * dashboard.html, and the chart library, read from a file at create() so
 * that nothing is fetched from the internet and no copy of it is kept in
 * this repository. */
#ifndef DASH_PAGE_ASSETS_H
#define DASH_PAGE_ASSETS_H

#include <stddef.h>

/* dashboard.html (generated at build time by embed.cmake). */
extern const char dash_page_html[];
extern const size_t dash_page_html_len;

typedef struct page_assets {
    char *chart_js; /* NULL when no library was found: the page then shows tables only */
    size_t chart_js_len;
    char chart_js_path[512]; /* where it came from, or where it was looked for */
} page_assets;

/* Reads the chart library: `configured` when given (an error if it cannot be
 * read), else the first of chart.min.js in a `dashboard` folder beside the
 * plugin and Debian's libjs-chart.js. Returns 0, or -1 with a message in err
 * (only for a configured path). */
int assets_load(page_assets *a, const char *configured, char *err, size_t err_size);
void assets_free(page_assets *a);

#endif
