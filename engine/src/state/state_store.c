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
/* The snapshot writer grows through the engine's allocator (xalloc.h). */
#define SLUICE_BYTES_REALLOC xrealloc
#include "sluice/bytes.h"

/* File layout (little-endian):
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

static void put_str(sluice_bytes_writer *b, const char *s)
{
    sluice_bytes_put_u32(b, (uint32_t)strlen(s));
    sluice_bytes_put(b, s, strlen(s));
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
    sluice_bytes_writer b = {0};
    sluice_bytes_put(&b, magic, sizeof magic);
    sluice_bytes_put_u32(&b, STATE_FORMAT);
    sluice_bytes_put_u64(&b, img->checkpoint_id);
    sluice_bytes_put_u32(&b, (uint32_t)img->count);
    for (size_t i = 0; i < img->count; i++) {
        const state_entry *e = &img->entries[i];
        put_str(&b, e->step);
        put_str(&b, e->plugin);
        put_str(&b, e->version);
        sluice_bytes_put_u32(&b, e->snap.encoding_version);
        sluice_bytes_put_u64(&b, e->snap.size);
        sluice_bytes_put(&b, e->snap.data, e->snap.size);
    }
    if (b.failed) /* past SIZE_MAX / 2: xrealloc itself never fails */
        out_of_memory(SIZE_MAX);
    sluice_bytes_put_u64(&b, record_hash_bytes(b.data, b.len));
    *size = b.len;
    return b.data;
}

int state_write(const char *dir, const char *pipeline, const state_image *img, char *err, size_t errsz)
{
    size_t size = 0;
    unsigned char *data = state_image_encode(img, &size);
    char *tmp = state_path(dir, pipeline, ".tmp");
    char *final = state_path(dir, pipeline, "");
    int rc = -1, fd = -1, created = 0;
    if (mkdirs(dir) != 0) {
        snprintf(err, errsz, "cannot create state folder %s: %s", dir, strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    created = 1;
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errsz, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "no byte written");
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
    /* A failed write (a full disk) leaves the previous checkpoint current;
     * its half-written successor goes. */
    if (rc != 0 && created)
        unlink(tmp);
    free(tmp);
    free(final);
    free(data);
    return rc;
}

static char *get_str(sluice_bytes_reader *r)
{
    uint32_t len = sluice_bytes_get_u32(r);
    const char *s = sluice_bytes_take(r, len);
    /* A NUL inside would cut the name short: no file this engine wrote. */
    if (s != NULL && memchr(s, '\0', len) != NULL) {
        r->failed = 1;
        s = NULL;
    }
    return s != NULL ? xstrndup(s, len) : xstrdup("");
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
    sluice_bytes_writer b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        sluice_bytes_put(&b, chunk, got);
    fclose(f);
    if (b.failed)
        out_of_memory(SIZE_MAX);
    int rc = state_image_decode(b.data, b.len, img, path, err, errsz);
    free(b.data);
    free(path);
    return rc;
}

int state_image_decode(const void *data, size_t size, state_image *img, const char *path, char *err,
                       size_t errsz)
{
    memset(img, 0, sizeof *img);
    const unsigned char *bytes = data;
    int rc = -1;
    if (size < sizeof magic + 4 + 8 || memcmp(bytes, magic, sizeof magic) != 0) {
        snprintf(err, errsz, "%s is not a Sluice state file", path);
        goto out;
    }
    if (sluice_le64_load(bytes + size - 8) != record_hash_bytes(bytes, size - 8)) {
        snprintf(err, errsz, "%s is corrupt (checksum mismatch)", path);
        goto out;
    }
    sluice_bytes_reader r = sluice_bytes_reader_of(bytes, size - 8);
    sluice_bytes_take(&r, sizeof magic);
    uint32_t format = sluice_bytes_get_u32(&r);
    if (format != STATE_FORMAT) {
        snprintf(err, errsz, "%s has state format %u; this engine reads format %u", path, format,
                 STATE_FORMAT);
        goto out;
    }
    img->checkpoint_id = sluice_bytes_get_u64(&r);
    uint32_t count = sluice_bytes_get_u32(&r);
    for (uint32_t i = 0; i < count && !r.failed; i++) {
        char *step = get_str(&r), *plugin = get_str(&r), *version = get_str(&r);
        sluice_snapshot snap = {sizeof snap, sluice_bytes_get_u32(&r), NULL, 0};
        snap.size = sluice_bytes_get_u64(&r);
        const void *src = sluice_bytes_take(&r, snap.size);
        if (src != NULL) {
            snap.data = xmalloc(snap.size ? snap.size : 1);
            memcpy(snap.data, src, snap.size);
        }
        if (!r.failed)
            state_image_add(img, step, plugin, version, &snap);
        free(snap.data);
        free(step);
        free(plugin);
        free(version);
    }
    if (r.failed || r.pos != r.len) {
        snprintf(err, errsz, "%s is truncated or malformed", path);
        state_image_free(img);
        goto out;
    }
    rc = 1;
out:
    return rc;
}
