"""secop-watcher: find the one SECOP II password-reset link that still works."""

__version__ = "0.1.0"
