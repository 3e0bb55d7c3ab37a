#include "state_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "xalloc.h"

/* File layout (little-endian as the machine writes it; the magic's format
 * number changes if that ever matters):
 *   "SLUICEST" u32 format=1, u64 checkpoint_id, u32 count,
 *   count x { str step, str plugin, str version, u32 encoding_version, u64 size, bytes },
 *   u64 checksum of everything before it.
 * str = u32 length + bytes. */
static const char magic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'S', 'T'};
#define STATE_FORMAT 1u

void state_image_free(state_image *img)
{
    for (size_t i = 0; i < img->count; i++) {
        free(img->entries[i].step);
        free(img->entries[i].plugin);
        free(img->entries[i].version);
        free(img->entries[i].snap.data);
    }
    free(img->entries);
    img->entries = NULL;
    img->count = 0;
}

void state_image_add(state_image *img, const char *step, const char *plugin, const char *version,
                     sluice_snapshot *snap)
{
    img->entries = xrealloc(img->entries, (img->count + 1) * sizeof *img->entries);
    state_entry *e = &img->entries[img->count++];
    e->step = xstrdup(step);
    e->plugin = xstrdup(plugin);
    e->version = xstrdup(version);
    e->snap = *snap;
    snap->data = NULL;
}

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_u32(buf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_str(buf *b, const char *s)
{
    put_u32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}

static char *state_path(const char *dir, const char *pipeline, const char *suffix)
{
    char *path;
    xasprintf(&path, "%s/%s.state%s", dir, pipeline, suffix);
    return path;
}

static int mkdirs(const char *dir)
{
    char *copy = xstrdup(dir);
    for (char *p = copy + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
                free(copy);
                return -1;
            }
            *p = '/';
        }
    }
    int rc = mkdir(copy, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(copy);
    return rc;
}

void *state_image_encode(const state_image *img, size_t *size)
{
    buf b = {0};
    put(&b, magic, sizeof magic);
    put_u32(&b, STATE_FORMAT);
    put_u64(&b, img->checkpoint_id);
    put_u32(&b, (uint32_t)img->count);
    for (size_t i = 0; i < img->count; i++) {
        const state_entry *e = &img->entries[i];
        put_str(&b, e->step);
        put_str(&b, e->plugin);
        put_str(&b, e->version);
        put_u32(&b, e->snap.encoding_version);
        put_u64(&b, e->snap.size);
        put(&b, e->snap.data, e->snap.size);
    }
    put_u64(&b, record_hash_bytes(b.p, b.n));
    *size = b.n;
    return b.p;
}

int state_write(const char *dir, const char *pipeline, const state_image *img, char *err, size_t errsz)
{
    buf b = {0};
    b.p = state_image_encode(img, &b.n);
    char *tmp = state_path(dir, pipeline, ".tmp");
    char *final = state_path(dir, pipeline, "");
    int rc = -1, fd = -1;
    if (mkdirs(dir) != 0) {
        snprintf(err, errsz, "cannot create state folder %s: %s", dir, strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < b.n;) {
        ssize_t w = write(fd, b.p + off, b.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        snprintf(err, errsz, "cannot fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, final) != 0) {
        snprintf(err, errsz, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        goto out;
    }
    /* Make the rename itself durable. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(final);
    free(b.p);
    return rc;
}

typedef struct reader {
    const char *p;
    size_t n, off;
    int bad;
} reader;

static void get(reader *r, void *out, size_t n)
{
    if (r->bad || r->n - r->off < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->off, n);
    r->off += n;
}

static uint32_t get_u32(reader *r)
{
    uint32_t v;
    get(r, &v, sizeof v);
    return v;
}

static uint64_t get_u64(reader *r)
{
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}

static char *get_str(reader *r)
{
    uint32_t len = get_u32(r);
    if (r->bad || r->n - r->off < len) {
        r->bad = 1;
        return xstrdup("");
    }
    char *s = xstrndup(r->p + r->off, len);
    r->off += len;
    return s;
}

int state_read(const char *dir, const char *pipeline, state_image *img, char *err, size_t errsz)
{
    memset(img, 0, sizeof *img);
    char *path = state_path(dir, pipeline, "");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int missing = errno == ENOENT;
        if (!missing)
            snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        free(path);
        return missing ? 0 : -1;
    }
    buf b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, chunk, got);
    fclose(f);
    int rc = state_image_decode(b.p, b.n, img, path, err, errsz);
    free(b.p);
    free(path);
    return rc;
}

int state_image_decode(const void *data, size_t size, state_image *img, const char *path, char *err,
                       size_t errsz)
{
    memset(img, 0, sizeof *img);
    buf b = {(char *)data, size, size};
    int rc = -1;
    if (b.n < sizeof magic + 4 + 8 || memcmp(b.p, magic, sizeof magic) != 0) {
        snprintf(err, errsz, "%s is not a Sluice state file", path);
        goto out;
    }
    uint64_t stored;
    memcpy(&stored, b.p + b.n - 8, 8);
    if (stored != record_hash_bytes(b.p, b.n - 8)) {
        snprintf(err, errsz, "%s is corrupt (checksum mismatch)", path);
        goto out;
    }
    reader r = {b.p, b.n - 8, sizeof magic, 0};
    uint32_t format = get_u32(&r);
    if (format != STATE_FORMAT) {
        snprintf(err, errsz, "%s has state format %u; this engine reads format %u", path, format,
                 STATE_FORMAT);
        goto out;
    }
    img->checkpoint_id = get_u64(&r);
    uint32_t count = get_u32(&r);
    for (uint32_t i = 0; i < count && !r.bad; i++) {
        char *step = get_str(&r), *plugin = get_str(&r), *version = get_str(&r);
        sluice_snapshot snap = {sizeof snap, get_u32(&r), NULL, 0};
        snap.size = get_u64(&r);
        if (!r.bad && r.n - r.off >= snap.size) {
            snap.data = xmalloc(snap.size ? snap.size : 1);
            get(&r, snap.data, snap.size);
        } else {
            r.bad = 1;
        }
        if (!r.bad)
            state_image_add(img, step, plugin, version, &snap);
        free(snap.data);
        free(step);
        free(plugin);
        free(version);
    }
    if (r.bad || r.off != r.n) {
        snprintf(err, errsz, "%s is truncated or malformed", path);
        state_image_free(img);
        goto out;
    }
    rc = 1;
out:
    return rc;
}
