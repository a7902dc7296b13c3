"""``[notify] command`` for the latency benchmark: append one timestamped line to a file.

Run as ``python -I -S hook.py FILE``; the service passes the details in
``SECOP_WATCHER_*`` environment variables. Standard library only, so it
starts in a few milliseconds.
"""

import os
import sys
import time

stamp = time.time()
line = "\t".join(
    [
        f"{stamp:.6f}",
        os.environ.get("SECOP_WATCHER_EVENT", ""),
        os.environ.get("SECOP_WATCHER_USERNAME", ""),
        os.environ.get("SECOP_WATCHER_FOLDER", ""),
    ]
)
with open(sys.argv[1], "a", encoding="utf-8") as fh:
    fh.write(line + "\n")
