#!/usr/bin/python3
"""Turns bench/run's measurements (key=value lines) into its one table.

    report.py RESULTS.txt > latest.md

Rates are input events over seconds. "after join" leaves out the consumer
group's first join, a fixed wait (about 3 s on the embedded broker) that
every group consumer pays once, whatever its speed.
"""
import sys


def load(path):
    values = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            if key:
                values[key] = value
    return values


def num(values, key):
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


def rate(events, seconds):
    if events is None or not seconds or seconds <= 0:
        return None
    return events / seconds


def human(x, unit=""):
    if x is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{suffix}{unit}"
    return f"{x:.0f}{unit}"


def mib(kb):
    return "-" if kb is None else f"{kb / 1024:.0f} MiB"


def secs(s):
    return "-" if s is None else f"{s:.2f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def times(x):
    return "-" if x is None else f"{x:.2f}x"


def verdict(value, target, at_most=False):
    if value is None:
        return "not measured"
    ok = value <= target if at_most else value >= target
    return "met" if ok else "MISSED"


def table(header, rows, align):
    """A markdown table padded so it also reads well as plain text."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r):
        return "| " + " | ".join(
            c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(r, widths, align)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else "-" * (w + 2)
                          for w, a in zip(widths, align)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in cells[1:]])


def main():
    v = load(sys.argv[1])
    events = num(v, "events")
    out = []
    out.append("# Sluice benchmark\n")
    out.append(
        f"{int(events):,} click events of about {v.get('event_bytes', '?')} bytes, "
        f"{int(num(v, 'users')):,} users, {int(num(v, 'urls')):,} URLs (clickgen, fixed seed). "
        f"Machine: {v.get('machine', '?')}. Commit {v.get('commit', '?')}, {v.get('date', '')}.")
    if "partitions" in v:
        out.append(f"Kafka: the embedded broker (librdkafka's mock cluster) on loopback, "
                   f"click-data with {v['partitions']} partitions, keyed by user_id.")
    out.append("")

    replay = rate(events, num(v, "replay_wall"))
    replay_big = rate(events, num(v, "replay_big_wall"))
    cs_wall = num(v, "clickstream_wall")
    cs_join = num(v, "clickstream_join")
    cs = rate(events, cs_wall)
    cs_steady = rate(events, cs_wall - cs_join if cs_wall and cs_join is not None else None)
    raw = rate(events, num(v, "raw_wall"))
    raw_steady = rate(events, num(v, "raw_consume"))
    kcat = rate(events, num(v, "kcat_wall"))
    py = rate(events, num(v, "python_wall"))
    py_steady = rate(events, num(v, "python_consume"))
    produce = rate(events, num(v, "produce_wall"))

    rows = [
        [f"replay.yaml, file to files, {int(num(v, 'users')):,} users "
         f"(median of {v.get('replay_runs', '').count('/') + 1}: {v.get('replay_runs', '')} s)",
         human(replay), "", secs(num(v, "replay_wall")), secs(num(v, "replay_cpu")), "",
         mib(num(v, "replay_rss_kb"))],
        [f"replay.yaml, file to files, {int(num(v, 'big_users')):,} users "
         f"({v.get('replay_big_runs', '')} s)",
         human(replay_big), "", secs(num(v, "replay_big_wall")), secs(num(v, "replay_big_cpu")),
         "", mib(num(v, "replay_big_rss_kb"))],
    ]
    if "replay_t1_wall" in v:
        for key, label in [("replay_p1", "replay.yaml, partitions: 1 (one instance per step)"),
                           ("replay_t1", "replay.yaml, 8 partitions on 1 thread"),
                           ("replay_t2", "replay.yaml, 8 partitions on 2 threads "
                                         f"(events per thread {v.get('replay_t2_thread_events', '?')})"),
                           ("replay_t2p", "replay.yaml, 8 partitions on 2 threads, two_phase: true "
                                          "(url_count in parts)")]:
            if key + "_wall" not in v:
                continue
            rows.append([f"{label} ({v.get(key + '_runs', '')} s)", human(rate(events, num(v, key + "_wall"))),
                         "", secs(num(v, key + "_wall")), secs(num(v, key + "_cpu")), "",
                         mib(num(v, key + "_rss_kb"))])
    def kafka_row(label, key, events_s, after_join):
        rows.append([label, human(events_s), after_join, secs(num(v, key + "_wall")),
                     secs(num(v, key + "_cpu")), secs(num(v, key + "_broker_cpu")),
                     mib(num(v, key + "_rss_kb"))])

    if "produce_wall" in v:
        kafka_row("load click-data: keyed_producer (not a headline)", "produce", produce, "")
    if "clickstream_wall" in v:
        kafka_row("clickstream.yaml, Kafka to Kafka, stop_at_end, one instance (TWO_PHASE=false)", "clickstream", cs,
                  human(cs_steady))
    if "raw_wall" in v:
        kafka_row("raw librdkafka batch consumer, no processing", "raw", raw, human(raw_steady))
    if "kcat_wall" in v:
        kafka_row("kcat -C, no group, no processing (ceiling)", "kcat", kcat, "(no group)")
    if "python_wall" in v:
        kafka_row("Python: confluent_kafka + pandas micro-batches", "python", py, human(py_steady))
    out.append(table(["measurement", "events/s", "after join", "wall s", "CPU s", "broker CPU s",
                      "peak RSS"], rows, "lrrrrrr"))
    out.append("")

    if "scale1_wall" in v:
        n = num(v, "scale_events")
        one, two = rate(n, num(v, "scale1_wall")), rate(n, num(v, "scale2_wall"))
        state = num(v, "scale_state_bytes")
        xbytes = num(v, "scale_exchange_bytes")
        out.append(table(
            [f"scale-out: clickstream.yaml (key: user_id, TWO_PHASE=true), {int(n):,} events, 12 partitions, "
             "one group, wall from start to the last instance's end (joins included)",
             "events/s", "wall s", "CPU s"],
            [["1 instance", human(one), secs(num(v, "scale1_wall")), secs(num(v, "scale1_cpu"))],
             [f"2 instances (events read: {v.get('scale2_read', '?')})", human(two),
              secs(num(v, "scale2_wall")), secs(num(v, "scale2_cpu"))],
             ["2 / 1", times(ratio(two, one)), "", ""],
             ["task state written to the changelog, bytes per input event (1 instance: "
              f"{int(num(v, 'scale_state_saves') or 0):,} task states, "
              f"{(state or 0) / max(num(v, 'scale_state_saves') or 1, 1) / 1024:.1f} KiB each; "
              "it depends on how many checkpoints fall in the middle of the input)",
              "-" if state is None or not n else f"{state / n:.1f}", "", ""],
             ["repartition bytes per input event (url_count's partial counts and watermarks, "
              "1 instance)", "-" if xbytes is None or not n else f"{xbytes / n:.1f}", "", ""]],
            "lrrr"))
        out.append("")

    r_raw, r_raw_s = ratio(cs, raw), ratio(cs_steady, raw_steady)
    r_py, r_py_s = ratio(cs, py), ratio(cs_steady, py_steady)
    r_kcat = ratio(cs, kcat)
    # Issue #14's targets. One core: the replay with one instance per step
    # (partitions: 1) where it was run, else the replay as shipped.
    one_core = rate(events, num(v, "replay_p1_wall")) if "replay_p1_wall" in v else replay
    targets = [
        ["replay events/s, one pipeline on one core"
         + (" (partitions: 1)" if "replay_p1_wall" in v else ""), human(one_core), "", ">= 2M/s",
         verdict(one_core, 2e6)],
        [f"replay events/s, {int(num(v, 'big_users')):,} users", human(replay_big), "", ">= 1.5M/s",
         verdict(replay_big, 1.5e6)],
    ]
    if "replay_t1_wall" in v:
        r_threads = ratio(rate(events, num(v, "replay_t2_wall")), rate(events, num(v, "replay_t1_wall")))
        pairs = (f"; each round's own ratio, 1 and 2 threads taking turns: {v['replay_pair_ratios']}, "
                 f"median {v.get('replay_pair_ratio_median', '?')}x" if "replay_pair_ratios" in v else "")
        targets.append(["replay, threads: 2 / threads: 1, medians of the walls (outputs identical: "
                        f"{v.get('threads_outputs_identical', 'no')}{pairs})", times(r_threads), "", ">= 1.6x",
                        verdict(r_threads, 1.6)])
        if "cores_alone" in v and "cores_both" in v:
            alone = [float(x) for x in v["cores_alone"].split()]
            both = [float(x) for x in v["cores_both"].split()]
            ceiling = min(alone) * sum(1 / t for t in both)
            targets.append([f"the cores for compute alone: a pinned busy loop took "
                            f"{alone[0]:.2f} / {alone[1]:.2f} s on each core alone, "
                            f"{both[0]:.2f} / {both[1]:.2f} s on both at once"
                            + (f"; a cache line between them and back: {v['core_pingpong_ns']} ns"
                               if "core_pingpong_ns" in v else ""),
                            times(ceiling), "", "reference", ""])
        if "replay_halves_wall" in v:
            r_halves = num(v, "replay_t1_wall") / num(v, "replay_halves_wall")
            targets.append([f"2 cores sharing nothing: two threads: 1 replays of half the input each, at "
                            f"once, took {num(v, 'replay_halves_wall'):.2f} s "
                            f"({v.get('replay_halves_runs', '')}) against {num(v, 'replay_t1_wall'):.2f} s "
                            "for all of it", times(r_halves), "", "reference", ""])
    if "raw_wall" in v:
        targets.append(["clickstream / raw consumer", times(r_raw), times(r_raw_s), ">= 0.9x",
                        verdict(r_raw_s if r_raw_s is not None else r_raw, 0.9)])
    if "python_wall" in v:
        targets.append(["clickstream / Python", times(r_py), times(r_py_s), ">= 20x",
                        verdict(r_py_s if r_py_s is not None else r_py, 20)])
    if "clickstream_rss_kb" in v:
        cs_mib = num(v, "clickstream_rss_kb") / 1024
        targets.append([f"clickstream peak RSS, {v.get('partitions', '?')} partitions", mib(num(v, "clickstream_rss_kb")),
                        "", "<= 256 MiB", verdict(cs_mib, 256, at_most=True)])
    if "kcat_wall" in v:
        targets.append(["clickstream / kcat", times(r_kcat), "", "reference", ""])
    out.append(table(["ratio", "wall", "after join", "target", ""], targets, "lrrll"))
    out.append("")

    if "replay_pg_wall" in v or "pg_sink_wall" in v:
        pg_rows = []
        replay_pg = rate(events, num(v, "replay_pg_wall"))
        r_pg = ratio(replay_pg, replay)
        pg_rows.append(["replay-postgres.yaml (replay.yaml + postgres sink) / replay.yaml",
                        f"{human(replay_pg)} / {human(replay)} events/s", times(r_pg), ">= 0.8x",
                        verdict(r_pg, 0.8)])
        if "clickstream_pg_wall" in v:
            cs_pg = rate(events, num(v, "clickstream_pg_wall"))
            r_cs = ratio(cs_pg, cs)
            pg_rows.append(["clickstream-postgres.yaml / clickstream.yaml (wall, join included)",
                            f"{human(cs_pg)} / {human(cs)} events/s", times(r_cs), ">= 0.8x",
                            verdict(r_cs, 0.8)])
        sink = rate(num(v, "pg_sink_rows"), num(v, "pg_sink_wall"))
        read_only = num(v, "pg_read_wall")
        sink_net = rate(num(v, "pg_sink_rows"),
                        num(v, "pg_sink_wall") - read_only if read_only is not None else None)
        pg_rows.append([f"postgres sink alone: {int(num(v, 'pg_sink_rows') or 0):,} url_clicks rows, "
                        f"wall {secs(num(v, 'pg_sink_wall'))} s (reading them alone: {secs(read_only)} s)",
                        f"{human(sink)} rows/s ({human(sink_net)} without reading)", "",
                        ">= 200k rows/s", verdict(sink, 2e5)])
        out.append(table([f"PostgreSQL {v.get('pg_server', '')} on loopback (scripts/postgres)",
                          "rate", "ratio", "target", ""], pg_rows, "lrrll"))
        out.append("")

    def per(bytes_key, count_key):
        b, c = num(v, bytes_key), num(v, count_key)
        return None if b is None or not c else b / c

    def count(key):
        x = num(v, key)
        return "-" if x is None else f"{int(x):,}"

    def size(x):
        return "-" if x is None else f"{x:.1f}"

    key_small, key_big = per("state_dedup_bytes", "state_dedup_keys"), per(
        "state_big_dedup_bytes", "state_big_dedup_keys")
    def per_less(bytes_key, less_key, count_key):
        b, l, c = num(v, bytes_key), num(v, less_key), num(v, count_key)
        return None if b is None or l is None or not c else (b - l) / c

    # Per open session: sessionize's state without the users it keeps (their
    # running averages outlive sessions, docs/semantics.md; counted per user below).
    ses_small = per_less("state_session_bytes", "state_session_user_bytes", "state_sessions_open")
    ses_big = per_less("state_big_session_bytes", "state_big_session_user_bytes",
                       "state_big_sessions_open")
    worst_key = max([x for x in (key_small, key_big) if x is not None], default=None)
    worst_ses = max([x for x in (ses_small, ses_big) if x is not None], default=None)
    users, big = f"{int(num(v, 'users')):,} users", f"{int(num(v, 'big_users')):,} users"
    mem = [
        ["replay peak RSS", mib(num(v, "replay_rss_kb")), mib(num(v, "replay_big_rss_kb")), "", ""],
        ["replay peak RSS before the end-of-input flush", mib(num(v, "state_rss_kb")),
         mib(num(v, "state_big_rss_kb")), "", ""],
        ["dedup: live keys", count("state_dedup_keys"), count("state_big_dedup_keys"), "", ""],
        ["dedup: state bytes", count("state_dedup_bytes"), count("state_big_dedup_bytes"), "", ""],
        ["dedup: bytes per live key", size(key_small), size(key_big), "<= 64",
         verdict(worst_key, 64, at_most=True)],
        ["sessionize: open sessions", count("state_sessions_open"), count("state_big_sessions_open"),
         "", ""],
        ["sessionize: users kept (running averages)", count("state_session_users"),
         count("state_big_session_users"), "", ""],
        ["sessionize: state bytes", count("state_session_bytes"), count("state_big_session_bytes"),
         "", ""],
        ["sessionize: user bytes (ids and running averages)", count("state_session_user_bytes"),
         count("state_big_session_user_bytes"), "", ""],
        ["sessionize: bytes per open session (users apart)", size(ses_small), size(ses_big),
         "<= 256", verdict(worst_ses, 256, at_most=True)],
        ["sessionize: bytes per kept user", size(per("state_session_user_bytes", "state_session_users")),
         size(per("state_big_session_user_bytes", "state_big_session_users")), "", ""],
        ["sessionize: bytes per open session, users included", size(per("state_session_bytes", "state_sessions_open")),
         size(per("state_big_session_bytes", "state_big_sessions_open")), "", ""],
    ]
    out.append(table(["memory (operator gauges: live state after the last event)", users, big,
                      "target", ""], mem, "lrrll"))
    out.append("")

    notes = []
    late = num(v, "clickstream_too_late")
    if late is not None and events:
        replay_late = num(v, "replay_too_late") or 0
        if late > 2 * replay_late + 0.001 * events:
            notes.append(
                f"clickstream rejected {int(late):,} events ({100 * late / events:.1f}%) as too "
                f"late, the replay {int(replay_late):,} of the same events: the Kafka run's "
                "results differ from the replay's, and its operators did less work.")
    read = num(v, "clickstream_read")
    if read is not None and events and read != events:
        notes.append(f"clickstream read {int(read):,} of {int(events):,} events.")
    if "profile" in v:
        try:
            with open(v["profile"]) as f:
                notes.append("replay profile (perf, self time):\n\n```\n" + f.read().rstrip() +
                             "\n```")
        except OSError:
            pass
    for n in notes:
        out.append("Note: " + n + "\n")
    print("\n".join(out).rstrip())


if __name__ == "__main__":
    main()
