#!/usr/bin/env bash
# The completion-port server against tokio at the same thread count, with
# the team's independent yardstick (echo-peers: its load generator checks
# every byte and reads the server's CPU over the measured window):
#
#   1. serve --model port --threads 1  vs  tokio current_thread   (server CPU 0, load CPU 1)
#   2. serve --model port --threads 2  vs  tokio multi_thread, 2 workers
#                                          (server CPU 0, load CPU 1, as echo-peers pins
#                                           tokio-mt2; with SERVER_CPU2=0-1 CLIENT_CPU2=0-1
#                                           the 2-thread servers get both CPUs, shared with the
#                                           load: msgs/s and server_cpu_us_per_msg stay valid,
#                                           the per-CPU busy columns do not)
#
# scenarios a (50 conns x 64 B) and b (500 x 64 B), closed loop, ROUNDS
# interleaved rounds, medians. Each pair runs in one run.sh invocation, so its
# ratio is a same-run ratio.
#
# usage: docs/bench/port-vs-tokio.sh      (from the repository root)
#   PEERS=/work/shared/bench/echo-peers SECS=5 ROUNDS=3 SERVER_CPU2=0 CLIENT_CPU2=1
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PEERS=${PEERS:-/work/shared/bench/echo-peers}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
SERVER_CPU2=${SERVER_CPU2:-0}
CLIENT_CPU2=${CLIENT_CPU2:-1}
OUT=${OUT:-$ROOT/target/port-vs-tokio/$(date +%Y%m%d-%H%M%S)}

cargo build --release --bin overlapped
work=$(mktemp -d)
cp -r "$PEERS" "$work/"
cd "$work/echo-peers"
cargo build --release
mkdir -p "$OUT"
BIN="$ROOT/target/release/overlapped serve --addr 127.0.0.1 --port {port} --model port"

NOBUILD=1 SERVERS=tokio-ct SCENARIOS="a b" SECS=$SECS ROUNDS=$ROUNDS \
  EXTRA="$BIN --threads 1" EXTRA_NAME=port-t1 OUT="$OUT/threads1" ./run.sh
NOBUILD=1 SERVERS=tokio-mt2 SCENARIOS="a b" SECS=$SECS ROUNDS=$ROUNDS \
  SERVER_CPU=$SERVER_CPU2 CLIENT_CPU=$CLIENT_CPU2 \
  EXTRA="$BIN --threads 2" EXTRA_NAME=port-t2 OUT="$OUT/threads2" ./run.sh

echo
echo "== 1 thread: port-t1 vs tokio-ct"
./table.sh "$OUT/threads1/results.tsv" tokio-ct
echo
echo "== 2 threads: port-t2 vs tokio-mt2"
./table.sh "$OUT/threads2/results.tsv" tokio-mt2
echo "results: $OUT"
rm -rf "$work"
