"""Run a command; write its wall time, exit code and peak memory (ru_maxrss) as JSON.

Usage: ``python -I -S benchmarks/peakmem.py OUT.json PROGRAM ARGS...``

Why a launcher: on Linux, a process's ``ru_maxrss`` starts from the high-water
mark of the memory it was forked from (exec records the old address space's
peak). Started straight from the benchmark, which holds a generated mailbox of
up to a gigabyte, ``check-now`` would report the benchmark's peak, not its
own. Started from this small process, it reports its own.
"""

import json
import os
import sys
import time

out, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_pid, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(out, "w", encoding="utf-8") as fh:
    json.dump({"wall_s": wall, "exit_code": code, "maxrss_kb": usage.ru_maxrss}, fh)
sys.exit(0)
