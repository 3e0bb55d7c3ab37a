#!/bin/sh
# The plugin's test: a pipeline reads test/clicks.jsonl, runs the plugin and
# writes what it keeps; the output must equal test/expected.jsonl, and
# `sluice check` must refuse an empty pattern at its line and column.
# Usage: sh test/run.sh SLUICE PLUGIN.so
set -eu
sluice=$1
plugin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pipeline() { # $1: the patterns
    cat <<YAML
name: drop_bots_test
steps:
  - name: clicks
    plugin: file
    options: {path: $here/clicks.jsonl}
    event: {max_future: off}
  - name: humans
    plugin: $plugin
    input: clicks
    options: {patterns: $1}
  - name: out
    plugin: file
    input: humans
    options: {path: $tmp/out.jsonl, truncate: true}
YAML
}

pipeline '[bot, crawler]' >"$tmp/ok.yaml"
"$sluice" check "$tmp/ok.yaml"
"$sluice" --log-level warn run "$tmp/ok.yaml"
diff -u "$here/expected.jsonl" "$tmp/out.jsonl"

pipeline '[bot, ""]' >"$tmp/bad.yaml"
if "$sluice" check "$tmp/bad.yaml" 2>"$tmp/err"; then
    echo "sluice check accepted an empty pattern" >&2
    exit 1
fi
grep -q "bad.yaml:10:.*pattern 2 is empty" "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
echo "drop_bots: ok"
