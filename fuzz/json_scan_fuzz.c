/* libFuzzer target for the hot-path JSON scanner, writer and event decoder.
 * Checks, beyond what the sanitizers catch:
 *  - the scanner agrees with jansson on validity (modulo the two documented
 *    differences: numbers beyond int64/double are valid, a raw NUL never is);
 *  - an accepted object written back from its fields scans again to the
 *    same fields (round trip);
 *  - event_decode never crashes and gives a reason exactly when invalid.
 * Build and run: see fuzz/README.md. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "event_decoder.h"
#include "json_scan.h"
#include "record.h"

static arena a;
static int ready;

static void check_against_jansson(const uint8_t *data, size_t size, json_scan_status st)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &e);
    int has_nul = memchr(data, 0, size) != NULL;
    if (j) {
        if (!has_nul && st == JSON_SCAN_INVALID)
            abort(); /* jansson accepts, scanner refuses */
        if (!has_nul && (st == JSON_SCAN_OK) != json_is_object(j))
            abort();
        json_decref(j);
    } else if (st != JSON_SCAN_INVALID && json_error_code(&e) != json_error_numeric_overflow) {
        abort(); /* scanner accepts what jansson refuses for another reason */
    }
}

static void check_round_trip(sluice_record *rec)
{
    sluice_record *copy = record_new(&a);
    rec->modified = 1;
    sluice_str out = json_write_record(rec, &a);
    if (json_scan_record(out.ptr, out.len, copy, NULL, 0) != JSON_SCAN_OK)
        abort();
    if (copy->nfields != rec->nfields)
        abort();
    for (uint32_t i = 0; i < rec->nfields; i++) {
        const field *x = &rec->fields[i], *y = &copy->fields[i];
        if (x->name_len != y->name_len || memcmp(x->name, y->name, x->name_len) != 0 || x->type != y->type)
            abort();
        if (x->type == SLUICE_TYPE_STRING && (x->len != y->len || memcmp(x->text, y->text, x->len) != 0))
            abort();
        if (x->type == SLUICE_TYPE_INT && x->v.i != y->v.i)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        arena_init(&a, 1 << 20);
        ready = 1;
    }
    /* An exact-size copy, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);

    sluice_record *rec = record_new(&a);
    char err[160];
    json_scan_status st = json_scan_record(buf, size, rec, err, sizeof err);
    check_against_jansson(data, size, st);
    if (st == JSON_SCAN_OK)
        check_round_trip(rec);

    event_config cfg;
    event_config_defaults(&cfg);
    event_verdict v;
    sluice_record *ev = record_new(&a);
    ev->raw = buf;
    ev->raw_len = (uint32_t)size;
    int valid = event_decode(&cfg, ev, INT64_C(1795737600000), &v);
    if (valid != (v.reason == NULL) || (!valid && v.detail[0] == '\0'))
        abort();

    if (size >= 20) {
        int64_t ms;
        rfc3339_parse_ms(buf, size, &ms);
    }
    free(buf);
    arena_reset(&a);
    return 0;
}
