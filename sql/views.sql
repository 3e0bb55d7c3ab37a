-- Views for historical analysis over the tables the `postgres` sink writes.
--
-- The sink creates them (create_tables: true, default table names) in its
-- schema, `sluice` by default; to create them by hand:
--
--   psql "$PG_URL" -c 'SET search_path TO sluice' -f sql/views.sql
--
-- Names are unqualified on purpose: they resolve in the schema on the
-- search_path when the views are created. Times are timestamptz; buckets
-- (hour, day) are taken in the session's TimeZone (SET TimeZone TO 'UTC').
-- docs/postgres.md shows each one queried on the demo's data.

-- Clicks per URL per hour, with the URL's rank in its hour (1 = most
-- clicked; ties by URL). Top 5 of every hour of a day:
--   SELECT * FROM top_urls_hourly
--    WHERE hour >= '2026-11-27' AND hour < '2026-11-28' AND rank <= 5;
CREATE OR REPLACE VIEW top_urls_hourly AS
SELECT hour, url, clicks,
       rank() OVER (PARTITION BY hour ORDER BY clicks DESC, url) AS rank
  FROM (SELECT date_trunc('hour', window_start) AS hour, url, sum(clicks)::bigint AS clicks
          FROM url_clicks GROUP BY 1, 2) h;

-- The same per day.
CREATE OR REPLACE VIEW top_urls_daily AS
SELECT day, url, clicks,
       rank() OVER (PARTITION BY day ORDER BY clicks DESC, url) AS rank
  FROM (SELECT date_trunc('day', window_start) AS day, url, sum(clicks)::bigint AS clicks
          FROM url_clicks GROUP BY 1, 2) d;

-- Top URLs over any range, using the (window_start, url) index:
--   SELECT * FROM top_urls_between('2026-11-27 10:00Z', '2026-11-27 14:00Z', 10);
CREATE OR REPLACE FUNCTION top_urls_between(since timestamptz, until timestamptz, n integer DEFAULT 10)
RETURNS TABLE (url text, clicks bigint) LANGUAGE sql STABLE AS $$
    SELECT u.url, sum(u.clicks)::bigint AS clicks
      FROM url_clicks u
     WHERE u.window_start >= since AND u.window_start < until
     GROUP BY u.url
     ORDER BY 2 DESC, 1
     LIMIT n
$$;

-- The click trend per hour: clicks, windows seen, and the busiest window's
-- unique users (unique users are not additive over windows).
CREATE OR REPLACE VIEW click_trend_hourly AS
SELECT date_trunc('hour', window_start) AS hour,
       sum(clicks)::bigint AS clicks,
       count(*) AS windows,
       max(unique_users) AS peak_window_users,
       round(avg(clicks), 1) AS avg_clicks_per_window
  FROM window_summary
 GROUP BY 1;

-- Average session duration per user, over every stored session.
CREATE OR REPLACE VIEW session_duration_by_user AS
SELECT user_id,
       count(*) AS sessions,
       round(avg(duration_ms) / 1000.0, 1) AS avg_duration_s,
       round(max(duration_ms) / 1000.0, 1) AS longest_s,
       min(session_start) AS first_seen,
       max(session_end) AS last_seen
  FROM sessions
 GROUP BY user_id;

-- How session durations spread, per day (by session start).
CREATE OR REPLACE VIEW session_duration_daily AS
SELECT date_trunc('day', session_start) AS day,
       count(*) AS sessions,
       count(DISTINCT user_id) AS users,
       round(avg(duration_ms) / 1000.0, 1) AS avg_s,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) / 1000.0)::numeric, 1) AS p50_s,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms) / 1000.0)::numeric, 1) AS p90_s,
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) / 1000.0)::numeric, 1) AS p99_s
  FROM sessions
 GROUP BY 1;

-- Rejected events by reason per day (by when they were stored), as a share
-- of that day's rejections and of that day's events (accepted clicks of
-- windows starting that day plus rejections). For a live stream the two
-- clocks agree; for a replay of old data, rejections land on the replay's
-- day.
CREATE OR REPLACE VIEW rejected_share_daily AS
WITH r AS (SELECT date_trunc('day', stored_at) AS day, reason, count(*) AS rejected
             FROM rejected GROUP BY 1, 2),
     d AS (SELECT day, sum(rejected) AS rejected FROM r GROUP BY 1),
     a AS (SELECT date_trunc('day', window_start) AS day, sum(clicks) AS accepted
             FROM window_summary GROUP BY 1)
SELECT r.day, r.reason, r.rejected,
       round(100.0 * r.rejected / d.rejected, 2) AS pct_of_rejected,
       round(100.0 * r.rejected / (d.rejected + coalesce(a.accepted, 0)), 3) AS pct_of_events
  FROM r JOIN d USING (day) LEFT JOIN a USING (day);
