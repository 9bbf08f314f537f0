#!/usr/bin/env python3
"""The account by guarantee: where a server's user-space instructions per message go.

Reads the two callgrind dumps that bench/cost-per-msg.sh leaves (OUT/NAME.callgrind.{SHORT,LONG}.1
and their .json), takes each function's *exclusive* cost (inlined code counts where it was inlined),
subtracts the short run from the long one and divides by the messages in between, then sums the
functions into groups, most the price of one Winsock guarantee; two are not guarantees: "reaping"
is the kernel interface's own cost, "application" the echo program itself. The groups add up to
the total exactly. Nothing is subtracted: the floor any loop pays to submit and reap (echo-peers'
`uring`, ~280 Ir/msg, one thread: give it to callgrind-delta.py) is inside the groups.

    python3 bench/cost-account.py OUT NAME [OUT2 NAME2]   # one column per run (before/after)
    python3 bench/cost-account.py --other OUT NAME        # also the functions no group claims
With CGOPTS=--separate-threads=yes (cost-per-msg.sh) the groups are the worker thread's and the
service thread gets a row of its own (its work depends on timing: on epoll it is most of the
run-to-run spread, ~+-150 Ir/msg, and it is where epoll pays for the progress guarantee that
io_uring pays in "wait: ring lock protocol").
"""
import json
import re
import subprocess
import sys

# (group, what it pays for, patterns matched against the function's name; first match wins)
GROUPS = [
    ("start: validation at the call",
     "Winsock's error codes at the call (WSAENOTCONN, WSAESHUTDOWN, WSAEOPNOTSUPP, flags)",
     [r"::recv_kind$", r"::send_kind$", r"SocketInner::usable", r"model::flags::", r"MsgFlags"]),
    ("start: record and routine",
     "an Overlapped record any thread may query or wait for (WSAGetOverlappedResult), "
     "its event reset at the start (fact 18); a routine kept on its thread until it runs (fact 33)",
     [r"OvState::begin", r"OvState::set_op", r"::start_overlapped$", r"::start_routine$",
      r"::start_kept_routine$", r"Local::keep", r"::recv_with$", r"::send_with$",
      r"socket_io::<impl .*>::(recv|send)$", r"Slab<T>::insert",
      r"drop_in_place<overlapped::sys::driver::Started", r"inline_fn::InlineFn"]),
    ("start: ring / readiness set-up",
     "buffer ownership (the buffers move into the operation until its completion is reaped), "
     "the immediate-completion rule (eager vs batched submission)",
     [r"sys::uring::ops::<impl .*>::start$", r"sys::epoll::Ring<O>::start$", r"prep::sqes", r"VacantEntry",
      r"Core<O>::push", r"Core<O>::submit$", r"Submitter::submit$", r"OpSlot.*::request",
      r"OpMem::", r"sys::epoll::Ring<O>::try_fresh", r"attempt::", r"BufList::",
      r"^(send|recv|sendmsg|recvmsg|__libc_send|__libc_recv)$"]),
    ("issue order per socket (lanes)",
     "facts 13/14: operations on one socket complete in issue order (enter at start, leave at completion)",
     [r"Lanes::enter", r"Lanes::leave", r"Lane::enter", r"Lane::leave", r"submit_next"]),
    ("completion: result rules",
     "Winsock's result rules: a stream send completes whole (partial sends resubmitted), "
     "MSG_TRUNC -> WSAEMSGSIZE, cancel -> WSA_OPERATION_ABORTED; the record's slot freed",
     [r"ops::<impl .*>::complete$", r"sys::epoll::Ring<O>::complete$", r"OpSlot.*::step$",
      r"OpSlot.*::absorb$", r"OpSlot.*::finish$", r"::advance", r"drop_in_place<overlapped::model::op::OpKind",
      r"drop_in_place<core::option::Option<\(overlapped::model::op::Notify"]),
    ("completion: notification",
     "the completion reaches whoever waits: the record's result stored and its event set "
     "(any thread may wait on it), or the routine queued to its own thread's APC queue (fact 33)",
     [r"model::op::deliver", r"ThreadShared::post", r"thread::push_local", r"VecDeque<T,A>::push_back", r"OvState::complete", r"Event::set",
      r"ReadySet::mark", r"ReadySet::set_bit"]),
    ("reaping (ring / epoll turn)",
     "not a guarantee: the kernel interface's cost (the completion queue read, or an epoll turn), "
     "each entry dispatched to its record",
     [r"ops::<impl .*>::reap$", r"Core<O>::collect", r"cqueue::", r"sys::epoll::Ring<O>::dispatch",
      r"epoll::core::(Core<O>::)?(wait_on|unwait|quiet)", r"Vec<T,A>::retain"]),
    ("wait: ring lock protocol and progress guarantee",
     "progress without the issuing thread (an event op completes while its issuer is away, "
     "fact 133; DESIGN 'completions while the issuing thread is away'): the ring lock, grace, "
     "the service's sleepers and ticks (on epoll the service thread does this work: see its row)",
     [r"Ring<O>::unlock", r"Ring<O>::release", r"Ring<O>::lock", r"::service::", r"Ring<O>::set_sleeping",
      r"Ring<O>::serve", r"mail::<impl", r"drain_mail", r"Ring<O>::wake", r"peek::"]),
    ("wait: the wait itself",
     "WaitForSingleObjectEx / WSAWaitForMultipleEvents / alertable waits: lowest signalled index, "
     "manual-reset events, WAIT_IO_COMPLETION after the routines (facts 33/34), the APC queue",
     [r"Local::park", r"wait::wait_list", r"EventSet::wait", r"wait_for_single_object_ex",
      r"pick_lowest", r"first_from", r"ReadySet::", r"WaiterGuard", r"wait::check",
      r"single_wait_set", r"Local::run_apcs", r"Local::drain_started", r"Ring<O>::turn",
      r"Ring<O>::flush", r"Core<O>::wait$", r"Submitter::submit_and_wait", r"Submitter::enter", r"^syscall$",
      r"thread::try_current", r"thread::current", r"^epoll_wait$", r"Timespec>::now", r"clock_gettime",
      r"asynccancel", r"next_signaled"]),
    ("application (the echo server and its API calls)",
     "not a guarantee: the echo program itself (its loop, routines as closures, "
     "GetOverlappedResult, buffers handed back)",
     [r"overlapped::serve::", r"get_overlapped_result", r"take_buffers", r"Event::reset",
      r"FnOnce::call_once", r"call_in_place", r"Completion", r"Socket as core::ops::drop",
      r"Socket as core::clone"]),
    ("allocator and libc copies",
     "malloc/free/memcpy/memset (the epoll service's per-wake vectors and maps, buffers)",
     [r"malloc", r"free", r"__rust_(alloc|dealloc)", r"__rdl_", r"memcpy", r"memset", r"memmove",
      r"hashbrown", r"RawVec", r"Vec<T> as alloc::vec::spec", r"realloc"]),
]


def flat(path):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", path],
                         capture_output=True, text=True).stdout.splitlines()
    i = [k for k, l in enumerate(out) if "file:function" in l][0] + 2
    cost = {}
    for l in out[i:]:
        if l.startswith("---") or not l.strip():
            break
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S.*)", l)
        if not m:
            continue
        name = re.sub(r" \[[^\]]*\]$", "", m.group(2))
        name = name.split(":", 1)[-1] if not name.startswith("???") else name[4:]
        cost[name] = cost.get(name, 0) + int(m.group(1).replace(",", ""))
    return cost


def waits(path):
    """Calls of Local::park (one per wait): the callers' `< caller (Nx)` lines of its entry in
    the caller tree. Without source annotation (--auto=no), so it does not depend on the
    sources still being where the dump was built."""
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--tree=caller", "--threshold=100", path],
                         capture_output=True, text=True).stdout
    best = calls = 0
    for line in out.splitlines():
        m = re.search(r"\)\s+<\s.*\(([\d,]+)x\)", line)
        if m:
            calls += int(m.group(1).replace(",", ""))
            continue
        if re.search(r"\)\s+\*\s.*Local::park\b", line):
            best = max(best, calls)  # an inlined part may have an entry of its own: the largest
        calls = 0
    return best


def dumps(d, name, secs):
    """The dump of one run: (worker thread's file, other threads' files). With CGOPTS=
    --separate-threads=yes each thread has its own file (-01 is the main thread, where the echo
    servers run their worker); otherwise one file holds them all."""
    import glob
    files = sorted(glob.glob(f"{d}/{name}.callgrind.{secs}.1-[0-9]*"))
    if files:
        return files[0], files[1:]
    return f"{d}/{name}.callgrind.{secs}.1", []


def run(d, name):
    import os
    short, long_ = sorted(int(m) for m in set(re.findall(
        rf"{re.escape(name)}\.callgrind\.(\d+)\.json", " ".join(os.listdir(d)))))
    (wa, oa), (wb, ob) = dumps(d, name, short), dumps(d, name, long_)
    a, b = flat(wa), flat(wb)
    ma, mb = (json.load(open(f"{d}/{name}.callgrind.{x}.json"))["msgs"] for x in (short, long_))
    dm = mb - ma
    per = {k: (v - a.get(k, 0)) / dm for k, v in b.items()}
    others = (sum(sum(flat(f).values()) for f in ob) - sum(sum(flat(f).values()) for f in oa)) / dm
    w = (waits(wb) - waits(wa)) / dm
    groups = {g: 0.0 for g, _, _ in GROUPS}
    other = {}
    for k, v in per.items():
        for g, _, pats in GROUPS:
            if any(re.search(p, k) for p in pats):
                groups[g] += v
                break
        else:
            other[k] = v
    return sum(per.values()) + others, w, groups, other, others, bool(ob)


def main():
    args = sys.argv[1:]
    show_other = args and args[0] == "--other"
    if show_other:
        args = args[1:]
    runs = [run(args[i], args[i + 1]) for i in range(0, len(args), 2)]
    names = [f"{args[i + 1]} ({args[i]})" for i in range(0, len(args), 2)]
    print("| part | " + " | ".join(names) + " | what it pays for |")
    print("|---|" + "---|" * len(runs) + "---|")
    for g, why, _ in GROUPS:
        print(f"| {g} | " + " | ".join(f"{r[2][g]:,.0f}" for r in runs) + f" | {why} |")
    print("| other (unclaimed) | " + " | ".join(f"{sum(r[3].values()):,.0f}" for r in runs) + " | |")
    if any(r[5] for r in runs):
        print("| the other threads (the backend's service thread) | "
              + " | ".join(f"{r[4]:,.0f}" if r[5] else "(in the rows above)" for r in runs)
              + " | progress without the issuing thread: the service's wake-ups and ticks "
              "(the rows above are the worker thread's alone) |")
    print("| **total Ir/msg** | " + " | ".join(f"**{r[0]:,.0f}**" for r in runs) + " | |")
    print("| waits/msg | " + " | ".join(f"{r[1]:.2f}" for r in runs) + " | |")
    if show_other:
        for n, r in zip(names, runs):
            print(f"\nunclaimed in {n}:")
            for k, v in sorted(r[3].items(), key=lambda x: -abs(x[1]))[:25]:
                if abs(v) >= 1:
                    print(f"  {v:8.1f}  {k[:140]}")


main()
