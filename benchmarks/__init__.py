"""The performance benchmark of secop-watcher (issue 5): see benchmarks/README.md."""
