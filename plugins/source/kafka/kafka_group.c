/* The consumer group side of the kafka source: which partitions it holds,
 * where each starts, and committing positions.
 *
 * Rebalancing is eager (range or roundrobin): each rebalance revokes the
 * whole assignment and hands out a new one. Every callback runs on the
 * pipeline's thread, inside poll() or destroy(). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_source.h"

static void log_assignment(kafka_source *s, const char *verb, const rd_kafka_topic_partition_list_t *parts)
{
    char line[1024];
    size_t len = 0;
    line[0] = '\0';
    for (int i = 0; i < parts->cnt && len < sizeof line - 1; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        char at[48] = "";
        if (tp->offset >= 0)
            snprintf(at, sizeof at, "@%" PRId64, tp->offset);
        else if (tp->offset == RD_KAFKA_OFFSET_BEGINNING)
            snprintf(at, sizeof at, "@earliest");
        else if (tp->offset == RD_KAFKA_OFFSET_END)
            snprintf(at, sizeof at, "@latest");
        int w = snprintf(line + len, sizeof line - len, "%s%s/%d%s", i ? " " : "", tp->topic,
                         (int)tp->partition, at);
        if (w > 0)
            len += (size_t)w;
    }
    s->host.api->log(s->host.ctx, SLUICE_LOG_INFO, "%s %d partition(s): %s", verb, parts->cnt,
                     parts->cnt ? line : "(none)");
}

void kgroup_drop_pending(kafka_source *s, kpart *p)
{
    for (void *m; (m = kpending_pop(&p->pending)) != NULL;) {
        kfetch_free_held(m);
        s->pending_total--;
    }
    korder_update(&s->order, p); /* leaves the order: cannot fail */
}

/* Where each newly assigned partition starts: a restored position, else the
 * group's committed offset, else `start`. */
static void choose_start_offsets(kafka_source *s, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t err = rd_kafka_committed(s->rk, committed, COMMITTED_TIMEOUT_MS);
    if (err)
        s->host.api->log(s->host.ctx, SLUICE_LOG_WARN,
                         "cannot read the group's committed offsets (%s): partitions start at them "
                         "once the broker answers",
                         rd_kafka_err2str(err));
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t restored = kpos_take_restored(&s->pos, tp->topic, tp->partition);
        const rd_kafka_topic_partition_t *c = &committed->elems[i];
        kpart *part = kpos_get(&s->pos, tp->topic, tp->partition);
        if (part && !err && c->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            free(part->state_ptr); /* the commit's metadata: where its task's state is */
            part->state_ptr = c->metadata_size ? strndup(c->metadata, c->metadata_size) : NULL;
        }
        if (restored >= 0 && !s->tasks)
            tp->offset = restored;
        else if (err)
            tp->offset = RD_KAFKA_OFFSET_INVALID; /* the committed one, whenever known */
        else if (c->err == RD_KAFKA_RESP_ERR_NO_ERROR && c->offset >= 0)
            tp->offset = c->offset;
        else
            tp->offset = s->start_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

/* Partition tasks: the state the committed offset points at goes to the
 * engine before the partition's first message. */
static void hand_over_state(kafka_source *s, kpart *p)
{
    void *data = NULL;
    size_t size = 0;
    char err[512] = "";
    int rc = kcl_load(s, p, &data, &size, err, sizeof err);
    if (rc < 0) {
        char where[600];
        snprintf(where, sizeof where, "%s/%d: %s", p->topic, (int)p->partition, err);
        s->host.api->source_partition_state(s->host.ctx, p->id, NULL, 0, where);
    } else {
        s->host.api->source_partition_state(s->host.ctx, p->id, data, size, NULL);
    }
    free(data);
}

static void on_assign(kafka_source *s, rd_kafka_topic_partition_list_t *parts)
{
    choose_start_offsets(s, parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        kpart *p = kpos_get(&s->pos, tp->topic, tp->partition);
        if (p == NULL) {
            s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR, "out of memory for partition %s/%d", tp->topic,
                             (int)tp->partition);
            continue;
        }
        kgroup_drop_pending(s, p);
        p->assigned = 1;
        p->generation++;
        p->at_eof = 0;
        p->next = tp->offset >= 0 ? tp->offset : -1;
        p->start = tp->offset;
        if (s->tasks && SLUICE_HOST_HAS(s->host.api, source_partition_state))
            hand_over_state(s, p);
        /* Until its first message, it may hold older events than the others:
         * it holds the watermark back (an older engine lacks the call). */
        if (SLUICE_HOST_HAS(s->host.api, source_partition_assigned))
            s->host.api->source_partition_assigned(s->host.ctx, p->id);
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(s->rk, parts);
    if (err)
        s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR, "cannot take the assigned partitions: %s",
                         rd_kafka_err2str(err));
    kx_assigned(s, parts);
    s->assignment_seen = 1;
    log_assignment(s, "assigned", parts);
}

static void on_revoke(kafka_source *s, rd_kafka_topic_partition_list_t *parts)
{
    /* Commit before giving the partitions up (their state with them), so
     * their next owner replays nothing: a checkpoint now, while this member
     * still belongs to the generation that owns them. */
    if (!s->closing && parts && parts->cnt > 0 && SLUICE_HOST_HAS(s->host.api, source_checkpoint_now))
        s->host.api->source_checkpoint_now(s->host.ctx);
    for (int i = 0; parts && i < parts->cnt; i++) {
        kpart *p = kpos_find(&s->pos, parts->elems[i].topic, parts->elems[i].partition);
        if (p == NULL || !p->assigned)
            continue;
        kgroup_drop_pending(s, p); /* its next owner reads them */
        p->assigned = 0;
        p->next = -1;
        p->at_eof = 0;
        if (!s->closing)
            s->host.api->source_partition_revoked(s->host.ctx, p->id);
    }
    rd_kafka_assign(s->rk, NULL);
    if (!s->closing && parts)
        log_assignment(s, "revoked", parts);
}

void kgroup_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    (void)rk;
    kafka_source *s = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(s, parts);
        return;
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        s->host.api->log(s->host.ctx, SLUICE_LOG_WARN, "rebalance failed: %s", rd_kafka_err2str(err));
    on_revoke(s, parts);
}

/* A partition stopped by an offset reset cannot be moved by a seek
 * (librdkafka leaves it idle), but a new assignment restarts it. The other
 * partitions restart exactly after what was pushed, and their fetched
 * messages are dropped to be fetched again: nothing is skipped or repeated. */
void kgroup_reassign(kafka_source *s)
{
    s->reassign = 0;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)s->pos.count);
    for (size_t i = 0; i < s->pos.count; i++) {
        kpart *p = s->pos.parts[i];
        if (!p->assigned)
            continue;
        kgroup_drop_pending(s, p);
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset =
            p->next >= 0 ? p->next : p->start;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(s->rk, list);
    if (err)
        s->host.api->log(s->host.ctx, SLUICE_LOG_ERROR, "cannot restart the partitions: %s",
                         rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(list);
}

/* A commit's outcome. A failed commit loses nothing: the messages are read
 * again after a restart or rebalance. */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque)
{
    (void)rk;
    kafka_source *s = opaque;
    s->commits_in_flight--;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    for (int i = 0; offsets && i < offsets->cnt && !err; i++)
        err = offsets->elems[i].err;
    if (!err) {
        s->host.api->counter_add(s->c_commits, 1);
        return;
    }
    s->host.api->counter_add(s->c_commit_failures, 1);
    kc_warn_limited(&s->host,
                    "offset commit failed (%s): messages since the last successful commit will be read again "
                    "after a restart or rebalance (at-least-once)",
                    rd_kafka_err2str(err));
}

void kgroup_commit(kafka_source *s, uint64_t id)
{
    const sluice_host_api *api = s->host.api;
    size_t valid = 0;
    kpos_checkpoint *cp = kpos_checkpoint_take(&s->pos, id, &valid);
    if (cp == NULL || valid == 0) {
        kpos_checkpoint_done(&s->pos, id);
        return;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)valid);
    for (size_t i = 0; i < valid; i++) {
        kpart *part = cp->entries[i].part;
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_add(list, part->topic, part->partition);
        tp->offset = cp->entries[i].offset;
        /* Offset and state pointer, committed together: "offset N" means
         * "the task's state as of N" (kafka_changelog.c). */
        if (s->tasks && part->state_ptr && (tp->metadata = strdup(part->state_ptr)) != NULL)
            tp->metadata_size = strlen(part->state_ptr);
    }
    kpos_checkpoint_done(&s->pos, id);
    /* Outcomes of earlier commits that took long, then this one: waited for,
     * but not forever (a coordinator may be away; the next checkpoint
     * commits newer positions anyway). */
    rd_kafka_queue_poll_callback(s->commit_queue, 0);
    rd_kafka_resp_err_t err = rd_kafka_commit_queue(s->rk, list, s->commit_queue, commit_cb, s);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        api->counter_add(s->c_commit_failures, 1);
        kc_warn_limited(
            &s->host,
            "offset commit not sent (%s): messages since the last commit will be read again after a "
            "restart (at-least-once)",
            rd_kafka_err2str(err));
        return;
    }
    s->commits_in_flight++;
    int64_t deadline = api->now_ms(s->host.ctx) + COMMIT_WAIT_MS;
    while (s->commits_in_flight > 0) {
        int64_t left = deadline - api->now_ms(s->host.ctx);
        if (left <= 0)
            break;
        rd_kafka_queue_poll_callback(s->commit_queue, (int)left);
    }
}

void kgroup_drain_commits(kafka_source *s)
{
    while (s->commits_in_flight > 0 && rd_kafka_queue_poll_callback(s->commit_queue, COMMIT_WAIT_MS) > 0) {
    }
}
