#!/usr/bin/env bash
# bench-l7.sh — the L7 engine's benchmarks (make bench-l7).
#
#  1. Per protocol: ns/packet and allocs/packet of the engine replaying each
#     real-client capture of l7/testdata/captures (agent mode: summaries off,
#     one Flow per connection), and the hot paths of l7 (keep-alive HTTP, DNS
#     with the allocation-free decoder and with miekg/dns summaries, whole
#     TLS connections, undetectable flows). go test -bench, -count 3, medians.
#  2. "bulkhead analyze" against ndpiReader (nDPI, Debian libndpi-bin) on the
#     same large capture of mixed traffic made in testenv (HTTP downloads and
#     small requests, HTTPS, DNS, Redis; about 240 MB, in a temporary
#     directory, never committed), single core (taskset -c 0, GOMAXPROCS=1),
#     runs interleaved, medians of RUNS (default 5) runs. Needs root (testenv,
#     tcpdump).
#
# The tables are printed and recorded in BENCHMARKS.md, section "L7 engine".
# Without ndpiReader, or without root and BENCH_CAPTURE, the script fails
# before measuring anything and leaves BENCHMARKS.md alone: a record without
# the comparison would replace the one that has it.
# Environment: RUNS (default 5), BENCH_CAPTURE (reuse an existing capture
# instead of making one), GO (default go).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
RUNS=${RUNS:-5}
COMMAND="make bench-l7"

fail() {
	echo "bench-l7: $*" >&2
	exit 1
}
command -v ndpiReader >/dev/null ||
	fail "ndpiReader not installed (apt-get install libndpi-bin): the comparison cannot run; BENCHMARKS.md left unchanged"
for tool in taskset bc capinfos; do
	command -v "$tool" >/dev/null || fail "$tool not installed; BENCHMARKS.md left unchanged"
done
if [ -n "${BENCH_CAPTURE:-}" ]; then
	[ -r "$BENCH_CAPTURE" ] || fail "BENCH_CAPTURE=$BENCH_CAPTURE: not a readable file"
elif [ "$(id -u)" != 0 ]; then
	fail "not root: the capture cannot be made in testenv (set BENCH_CAPTURE=FILE to measure on an existing one); BENCHMARKS.md left unchanged"
fi
tmp=$(mktemp -d /tmp/bench-l7.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# ---- 1. per-protocol micro-benchmarks ------------------------------------
echo "== per-protocol benchmarks (go test -bench, -count 3)" >&2
"$GO" test ./l7/capture -run '^$' -bench '^BenchmarkProtocols$' -benchtime 300x -count 3 >"$tmp/protocols.txt"
"$GO" test ./l7 -run '^$' -bench '^BenchmarkHotPath$' -benchtime 20000x -count 3 >"$tmp/hotpath.txt"

# metric FILE NAME UNIT: median of the value before UNIT on NAME's lines.
metric() {
	awk -v name="$2" -v unit="$3" '$1 ~ "^"name"-[0-9]+$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' "$1" | median
}

proto_table() {
	echo "| capture (protocol) | packets | ns/packet | allocs/packet |"
	echo "| --- | ---: | ---: | ---: |"
	for name in $(awk '$1 ~ /^BenchmarkProtocols\// {sub(/-[0-9]+$/, "", $1); print $1}' "$tmp/protocols.txt" | sort -u); do
		printf "| %s | %.0f | %.0f | %.2f |\n" "${name#BenchmarkProtocols/}" \
			"$(metric "$tmp/protocols.txt" "$name" packets)" \
			"$(metric "$tmp/protocols.txt" "$name" ns/packet)" \
			"$(metric "$tmp/protocols.txt" "$name" allocs/packet)"
	done
	echo
	echo "| hot path | ns/packet | allocs/packet |"
	echo "| --- | ---: | ---: |"
	for name in $(awk '$1 ~ /^BenchmarkHotPath\// {sub(/-[0-9]+$/, "", $1); print $1}' "$tmp/hotpath.txt" | sort -u); do
		printf "| %s | %.0f | %.2f |\n" "${name#BenchmarkHotPath/}" \
			"$(metric "$tmp/hotpath.txt" "$name" ns/packet)" \
			"$(metric "$tmp/hotpath.txt" "$name" allocs/packet)"
	done
}
proto_table >"$tmp/table1.md"

# ---- 2. analyze against ndpiReader ----------------------------------------
analyze_table() {
	local pcap=${BENCH_CAPTURE:-}
	if [ -z "$pcap" ]; then
		pcap=$tmp/mixed.pcap
		echo "== making the mixed-traffic capture in testenv" >&2
		"$GO" test -tags captures ./l7/capture -count 1 -run '^TestMakeBenchCapture$' -bench-capture="$pcap" >&2
	fi
	"$GO" build -o "$tmp/bulkhead" ./cmd/bulkhead
	local size packets
	size=$(stat -c %s "$pcap")
	packets=$(capinfos -c -M "$pcap" 2>/dev/null | awk '/Number of packets/ {print $NF}')
	[ -n "$packets" ] || fail "capinfos could not count the packets of $pcap"
	for i in $(seq "$RUNS"); do
		for tool in bulkhead ndpi; do
			local start end
			start=$(date +%s.%N)
			if [ "$tool" = bulkhead ]; then
				taskset -c 0 env GOMAXPROCS=1 "$tmp/bulkhead" analyze --format json "$pcap" >/dev/null
			else
				taskset -c 0 ndpiReader -i "$pcap" -q >/dev/null
			fi
			end=$(date +%s.%N)
			echo "$end - $start" | bc -l >>"$tmp/$tool.times"
			echo "   run $i $tool: $(tail -1 "$tmp/$tool.times") s" >&2
		done
	done
	local tb tn
	tb=$(median <"$tmp/bulkhead.times")
	tn=$(median <"$tmp/ndpi.times")
	echo "Capture: $((size / 1000000)) MB, $packets packets of mixed traffic (HTTP, HTTPS, DNS, Redis) made in testenv."
	echo "Single core (taskset -c 0; GOMAXPROCS=1), median of $RUNS interleaved runs; ndpiReader $(ndpiReader -h 2>&1 | awk '/nDPI/ {print $NF; exit}')."
	echo
	echo "| tool | seconds | MB/s | packets/s |"
	echo "| --- | ---: | ---: | ---: |"
	for row in "bulkhead analyze:$tb" "ndpiReader -q:$tn"; do
		local name=${row%%:*} t=${row##*:}
		printf "| %s | %.3f | %.0f | %.0f |\n" "$name" "$t" "$(echo "$size / $t / 1000000" | bc -l)" "$(echo "$packets / $t" | bc -l)"
	done
	echo
	printf "bulkhead analyze / ndpiReader time: %.2f (below 1: faster).\n" "$(echo "$tb / $tn" | bc -l)"
}
analyze_table >"$tmp/table2.md"

# ---- report ------------------------------------------------------------------
{
	echo "## L7 engine"
	echo
	echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), with"
	echo "other work running on the machine: compare the ratios, not the absolute figures."
	echo "Command: \`$COMMAND\` (scripts/bench-l7.sh)."
	echo
	echo "### Per protocol: the engine replaying real-client captures (agent mode)"
	echo
	cat "$tmp/table1.md"
	echo
	echo "### bulkhead analyze against ndpiReader"
	echo
	cat "$tmp/table2.md"
	echo
} >"$tmp/section.md"
cat "$tmp/section.md"

# Replace the section in BENCHMARKS.md (from "## L7 engine" to the next "## ").
touch BENCHMARKS.md
awk -v sec="$tmp/section.md" '
	BEGIN { while ((getline l < sec) > 0) body = body l "\n" }
	/^## L7 engine$/ { skip = 1; printf "%s", body; done = 1; next }
	skip && /^## / { skip = 0 }
	!skip { print }
	END { if (!done) { if (NR > 0) print ""; printf "%s", body } }
' BENCHMARKS.md >"$tmp/BENCHMARKS.md"
cp "$tmp/BENCHMARKS.md" BENCHMARKS.md
echo "recorded in BENCHMARKS.md" >&2
