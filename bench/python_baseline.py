#!/usr/bin/python3
"""The design Sluice replaces: a Python job on confluent_kafka and pandas.

    /usr/bin/python3 bench/python_baseline.py BROKERS TOPIC GROUP [--out DIR]

Reads TOPIC as member of GROUP in micro-batches (consume(num_messages=10000,
timeout=1)), json.loads every value, builds one pandas DataFrame per
micro-batch and folds it into running state:

- validation (user_id, url, ts as epoch ms or RFC 3339) and dedup by
  event_id against the ids seen in the last hour of event time;
- clicks per URL per minute, emitted with the minute's top 10 URLs once the
  watermark passes the minute (as Sluice's: per partition the max ts - 5 s,
  the smallest over the partitions seen);
- sessions per user (sort by user and ts, a new session after a 30 minute
  gap, cumulative sums for session numbers), emitted when the watermark
  passes their end by the gap, with each user's running average duration.

Stops when every assigned partition has reached its end, emits what is still
open, and prints one line:

    messages=N valid=V duplicates=D windows=W sessions=S wall_s=W consume_s=C

This is the idiomatic way to write such a job, not a strawman: vectorised
pandas wherever pandas offers it. It computes less than Sluice (no unique
users per window; a watermark per micro-batch rather than per event; no
lateness rule, late events are counted in; results go to files rather than
Kafka), so the comparison favours it.
"""
import argparse
import json
import os
import time

import numpy as np
import pandas as pd
from confluent_kafka import Consumer, KafkaError

WINDOW_MS = 60_000
GAP_MS = 30 * 60_000
OUT_OF_ORDER_MS = 5_000
DEDUP_TTL_MS = 3_600_000
MAX_FUTURE_MS = 3_600_000
TOP = 10
BATCH = 10_000


def text_length(column):
    """Length of the strings in an object column, -1 for anything else."""
    is_text = column.map(type).eq(str)
    length = pd.Series(-1, index=column.index)
    if is_text.any():
        length[is_text] = column[is_text].str.len()
    return length


def parse_events(values, partitions):
    """JSON-decodes message values into a frame of valid events."""
    rows, kept = [], []
    for value, partition in zip(values, partitions):
        try:
            event = json.loads(value)
        except ValueError:  # also invalid UTF-8
            continue
        if isinstance(event, dict):
            rows.append(event)
            kept.append(partition)
    df = pd.DataFrame.from_records(rows, columns=["event_id", "user_id", "url", "ts"])
    df["partition"] = kept
    if df.empty:
        return df

    ts = pd.to_numeric(df["ts"], errors="coerce")
    text = df["ts"].map(type).eq(str)
    if text.any():
        parsed = pd.to_datetime(df.loc[text, "ts"], utc=True, errors="coerce")
        ts[text] = parsed.astype("int64").where(parsed.notna()) // 1_000_000
    df["ts"] = ts
    user_is_int = df["user_id"].map(type).eq(int)
    valid = (
        (text_length(df["user_id"]).between(1, 256) | user_is_int)
        & text_length(df["url"]).between(1, 4096)
        & df["ts"].between(0, time.time() * 1000 + MAX_FUTURE_MS)
    )
    df = df[valid].copy()
    df["ts"] = df["ts"].astype("int64")
    df["user_id"] = df["user_id"].astype(str)
    return df


class Job:
    def __init__(self, out_dir):
        self.seen = {}  # event_id -> ts, for dedup
        self.window_parts = {}  # window start -> [clicks per URL of one micro-batch]
        self.open = pd.DataFrame({"start": pd.Series(dtype="int64"),
                                  "end": pd.Series(dtype="int64"),
                                  "clicks": pd.Series(dtype="int64")})
        self.open.index.name = "user_id"
        self.user_stats = pd.DataFrame({"sessions": pd.Series(dtype="int64"),
                                        "total_ms": pd.Series(dtype="int64")})
        self.partition_max_ts = {}
        self.valid = self.duplicates = self.windows = self.sessions = 0
        self.out = {}
        if out_dir:
            for name in ("url_clicks", "window_summary", "sessions"):
                self.out[name] = open(os.path.join(out_dir, name + ".jsonl"), "w")

    def write(self, name, frame):
        if name in self.out and not frame.empty:
            frame.to_json(self.out[name], orient="records", lines=True)
            self.out[name].write("\n")

    def watermark(self):
        """As Sluice's: the smallest over the partitions seen of max ts - 5 s."""
        if not self.partition_max_ts:
            return None
        return min(self.partition_max_ts.values()) - OUT_OF_ORDER_MS

    def dedup(self, df):
        """Drops events whose key (event_id, else user|url|ts) was seen within the ttl."""
        key = df["event_id"].where(
            df["event_id"].notna(), df["user_id"] + "|" + df["url"] + "|" + df["ts"].astype(str))
        first = ~key.duplicated()
        seen = self.seen
        fresh = first & np.fromiter((k not in seen for k in key), bool, len(key))
        df = df[fresh]
        seen.update(zip(key[fresh], df["ts"]))
        return df

    def expire_seen(self, watermark):
        self.seen = {k: ts for k, ts in self.seen.items() if ts + DEDUP_TTL_MS > watermark}

    def add_batch(self, df):
        before = len(df)
        df = self.dedup(df)
        self.duplicates += before - len(df)
        self.valid += len(df)
        if df.empty:
            return
        for partition, ts in df.groupby("partition")["ts"].max().items():
            self.partition_max_ts[partition] = max(self.partition_max_ts.get(partition, ts), ts)

        # Partial counts per window, summed once when the window fires.
        counts = df.groupby([df["ts"] // WINDOW_MS * WINDOW_MS, "url"]).size()
        windows = counts.index.get_level_values(0).to_numpy()
        urls, clicks = counts.index.get_level_values(1), counts.to_numpy()
        starts = np.flatnonzero(np.r_[True, windows[1:] != windows[:-1]])
        for a, b in zip(starts, np.r_[starts[1:], len(windows)]):
            self.window_parts.setdefault(int(windows[a]), []).append(
                pd.Series(clicks[a:b], index=urls[a:b]))
        self.add_sessions(df[["user_id", "ts"]])

    def add_sessions(self, df):
        df = df.sort_values(["user_id", "ts"])
        prev = df.groupby("user_id")["ts"].shift()
        prev = prev.fillna(df["user_id"].map(self.open["end"]))  # the open session's end
        new = ~((df["ts"] - prev) <= GAP_MS)  # NaN (no open session) starts one too
        df = df.assign(sid=new.astype("int64").groupby(df["user_id"]).cumsum())
        batch = df.groupby(["user_id", "sid"])["ts"].agg(start="min", end="max", clicks="size")

        # Session 0 of a user continues the open session.
        users = batch.index.unique(level=0)
        carried = self.open.loc[self.open.index.intersection(users)]
        carried.index = pd.MultiIndex.from_arrays([carried.index, np.zeros(len(carried), "int64")],
                                                  names=["user_id", "sid"])
        merged = pd.concat([batch, carried]).groupby(level=[0, 1]).agg(
            start=("start", "min"), end=("end", "max"), clicks=("clicks", "sum"))
        sid = pd.Series(merged.index.get_level_values(1), index=merged.index)
        last_sid = sid == sid.groupby(level=0).transform("max")
        still_open = merged[last_sid].droplevel(1)
        self.emit_sessions(merged[~last_sid].droplevel(1))
        self.open = pd.concat([self.open.drop(users, errors="ignore"), still_open])

    def emit_sessions(self, closed):
        if closed.empty:
            return
        closed = closed.sort_values("end")
        duration = closed["end"] - closed["start"]
        per_user = pd.DataFrame({"sessions": 1, "total_ms": duration}).groupby(level=0).sum()
        self.user_stats = self.user_stats.add(per_user, fill_value=0).astype("int64")
        stats = self.user_stats.loc[closed.index]
        out = closed.assign(duration_ms=duration,
                            user_avg_duration_ms=(stats["total_ms"] / stats["sessions"]).to_numpy())
        self.sessions += len(out)
        self.write("sessions", out.reset_index())

    def advance(self, watermark):
        """Emits the windows and sessions the watermark has closed."""
        done = sorted(w for w in self.window_parts if w + WINDOW_MS <= watermark)
        if done:
            fired = pd.concat({w: pd.concat(self.window_parts.pop(w)).groupby(level=0).sum()
                               for w in done}, names=["window", "url"])
            self.windows += len(done)
            self.write("url_clicks", fired.rename("clicks").reset_index())
            top = fired.groupby(level=0, group_keys=False).nlargest(TOP)
            self.write("window_summary", top.rename("clicks").reset_index())
        ended = self.open["end"] + GAP_MS < watermark
        if ended.any():
            self.emit_sessions(self.open[ended])
            self.open = self.open[~ended]

    def close(self):
        for f in self.out.values():
            f.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("brokers")
    ap.add_argument("topic")
    ap.add_argument("group")
    ap.add_argument("--out", help="folder for url_clicks, window_summary, sessions .jsonl")
    args = ap.parse_args()

    t_start = time.monotonic()
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "enable.auto.commit": False,
        "partition.assignment.strategy": "range",
        "queued.min.messages": 1_000_000,  # the fetch settings of Sluice's kafka source
        "fetch.wait.max.ms": 100,
    })
    assigned, at_end = set(), set()

    def on_assign(c, parts):
        assigned.update((p.topic, p.partition) for p in parts)

    consumer.subscribe([args.topic], on_assign=on_assign)
    job = Job(args.out)
    messages = batches = 0
    t_first = None
    last_data = time.monotonic()
    while not assigned or not assigned <= at_end:
        msgs = consumer.consume(num_messages=BATCH, timeout=1)
        values, partitions = [], []
        for m in msgs:
            err = m.error()
            if err is None:
                values.append(m.value())
                partitions.append(m.partition())
            elif err.code() == KafkaError._PARTITION_EOF:
                at_end.add((m.topic(), m.partition()))
            else:
                raise SystemExit(f"python_baseline: {err}")
        if values:
            t_first = t_first or time.monotonic()
            last_data = time.monotonic()
            messages += len(values)
            job.add_batch(parse_events(values, partitions))
            batches += 1
            watermark = job.watermark()
            if watermark is not None:
                job.advance(watermark)
                if batches % 20 == 0:
                    job.expire_seen(watermark)
        elif time.monotonic() - last_data > 60:
            raise SystemExit("python_baseline: nothing for 60 s, giving up")
    t_end = time.monotonic()
    job.advance(float("inf"))
    job.close()
    consumer.close()
    t_done = time.monotonic()
    print(f"messages={messages} valid={job.valid} duplicates={job.duplicates} "
          f"windows={job.windows} sessions={job.sessions} "
          f"wall_s={t_done - t_start:.3f} consume_s={t_done - (t_first or t_end):.3f}")


if __name__ == "__main__":
    main()
