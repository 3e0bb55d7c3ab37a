/* State checkpoints on disk: the snapshots of every step of a pipeline at
 * one checkpoint, written atomically (temporary file, fsync, rename) to
 * <state_dir>/<pipeline>.state, and read back at start. Each snapshot keeps
 * the plugin's name, version and own encoding version, so state written by
 * another plugin is refused and an older encoding is handed to the plugin to
 * read or refuse. */
#ifndef SLUICE_STATE_STORE_H
#define SLUICE_STATE_STORE_H

#include <stdint.h>

#include "sluice/plugin.h"

typedef struct state_entry {
    char *step;           /* step name */
    char *plugin;         /* plugin name */
    char *version;        /* plugin version */
    sluice_snapshot snap; /* data malloc'd */
} state_entry;

typedef struct state_image {
    uint64_t checkpoint_id;
    state_entry *entries;
    size_t count;
} state_image;

void state_image_free(state_image *img);
/* Take ownership of snap->data. */
void state_image_add(state_image *img, const char *step, const char *plugin, const char *version,
                     sluice_snapshot *snap);

/* The image in the state file's format (checksummed), malloc'd; and read
 * back from such bytes: 1, or -1 with a message naming `what` in err. For
 * state kept elsewhere than a file (a partition task's, in Kafka). */
void *state_image_encode(const state_image *img, size_t *size);
int state_image_decode(const void *data, size_t size, state_image *img, const char *what, char *err,
                       size_t errsz);

/* Write atomically; -1 with a message in err. */
int state_write(const char *dir, const char *pipeline, const state_image *img, char *err, size_t errsz);
/* 1 when read, 0 when there is no state yet, -1 (message in err) when the
 * file is unreadable, truncated or corrupt. */
int state_read(const char *dir, const char *pipeline, state_image *img, char *err, size_t errsz);

#endif
