#!/usr/bin/env bash
# Load-independent cost per echoed message: user-space instructions (callgrind Ir) and
# system calls and context switches (perf stat -e raw_syscalls:sys_enter,context-switches, all threads), as the difference between a short and a long paced run,
# so start-up and connection set-up cancel out.
#   bench/cost-per-msg.sh NAME CMD...   (CMD takes the port as its last argument, after --port)
# e.g. bench/cost-per-msg.sh routine target/release/overlapped serve --model routine --port
#      bench/cost-per-msg.sh uring "$E"/echo-uring --port   # E: echo-peers' target/release
# Env: B (bench client, default target/release/overlapped), RATE (msgs/s, default 300),
# SHORT/LONG (seconds, default 4/12), CONNS (50), SIZE (64), OUT (default /tmp/cost-per-msg),
# CGOPTS (more callgrind options, e.g. --separate-threads=yes: one dump per thread, NAME.callgrind.S.1-NN).
# CONNS=1 makes every message alone: the worker thread's count repeats from run to run (the
# account uses it); on epoll the backend's service thread wakes by timing, ~+-150 Ir/msg between runs.
set -u
NAME=$1; shift
B=${B:-target/release/overlapped}; RATE=${RATE:-300}; SHORT=${SHORT:-4}; LONG=${LONG:-12}
CONNS=${CONNS:-50}; SIZE=${SIZE:-64}; OUT=${OUT:-/tmp/cost-per-msg}; mkdir -p "$OUT"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 600); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; }
run() { # tool secs -> prints "msgs"; tool output in $OUT/$NAME.$tool.$secs
  local tool=$1 secs=$2 p; p=$(port)
  case $tool in
    callgrind) rm -f "$OUT/$NAME.callgrind.$secs".1*
      valgrind --tool=callgrind ${CGOPTS:-} --callgrind-out-file="$OUT/$NAME.callgrind.$secs" "${CMD[@]}" "$p" >/dev/null 2>"$OUT/$NAME.vg.$secs" & ;;
    syscalls) "${CMD[@]}" "$p" >/dev/null 2>&1 & ;;
  esac
  local pid=$!; waitport "$p"; sleep 0.5
  if [ $tool = syscalls ]; then # a tracepoint count over the whole bench (no hardware counters needed)
    perf stat -x, -e raw_syscalls:sys_enter,context-switches -p $pid -- sleep $((secs + 3)) 2>"$OUT/$NAME.syscalls.$secs" &
    local perf=$!; sleep 0.3
  fi
  local j; j=$($B bench --addr 127.0.0.1:$p --conns $CONNS --size $SIZE --rate $RATE --secs $secs --warmup 0 --json)
  echo "$j" > "$OUT/$NAME.$tool.$secs.json"
  if [ $tool = callgrind ]; then # a dump now (file .1), then gone: no exit path under valgrind
    callgrind_control -d $pid >/dev/null; kill -KILL $pid
  else
    wait $perf; kill -KILL $pid
  fi
  wait $pid 2>/dev/null
  echo "$j" | python3 -c 'import json,sys;print(json.load(sys.stdin)["msgs"])'
}
CMD=("$@")
for tool in ${TOOLS:-callgrind syscalls}; do
  m1=$(run $tool $SHORT); m2=$(run $tool $LONG)
  if [ $tool = callgrind ]; then
    total() { for f in "$OUT/$NAME.callgrind.$1".1 "$OUT/$NAME.callgrind.$1".1-[0-9]*; do [ -e "$f" ] && callgrind_annotate --auto=no "$f" | awk '/PROGRAM TOTALS/{gsub(",","",$1);print $1}'; done | paste -sd+ | bc; }
    i1=$(total $SHORT); i2=$(total $LONG)
    echo "$NAME Ir/msg (user space): ($i2 - $i1) / ($m2 - $m1) = $(( (i2 - i1) / (m2 - m1) ))"
  else
    c1=$(grep sys_enter "$OUT/$NAME.syscalls.$SHORT" | cut -d, -f1); c2=$(grep sys_enter "$OUT/$NAME.syscalls.$LONG" | cut -d, -f1)
    echo "$NAME syscalls/msg: ($c2 - $c1) / ($m2 - $m1) = $(python3 -c "print(round(($c2-$c1)/($m2-$m1),3))")"
    s1=$(grep context-switches "$OUT/$NAME.syscalls.$SHORT" | cut -d, -f1); s2=$(grep context-switches "$OUT/$NAME.syscalls.$LONG" | cut -d, -f1)
    echo "$NAME context switches/msg: ($s2 - $s1) / ($m2 - $m1) = $(python3 -c "print(round(($s2-$s1)/($m2-$m1),3))")"
  fi
done
