"""Installing secop-watcher as the operating system's login service.

``files`` writes and reads the service definitions (systemd user unit,
launchd agent, Task Scheduler task), ``control`` runs ``service install |
uninstall | status`` with the platform's tools, ``render`` shows the results.
"Service" elsewhere in the package means the running watcher (watcher.service).
"""
