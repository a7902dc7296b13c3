"""Where secop-watcher keeps its files.

platformdirs gives the platform's conventional folders; each one can be moved
with an environment variable (used by the tests and by people who keep their
dotfiles elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "secop-watcher"


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else Path(default)


def config_dir() -> Path:
    return _dir("SECOP_WATCHER_CONFIG_DIR", platformdirs.user_config_dir(APP, appauthor=False))


def state_dir() -> Path:
    return _dir("SECOP_WATCHER_STATE_DIR", platformdirs.user_state_dir(APP, appauthor=False))


def log_dir() -> Path:
    return _dir("SECOP_WATCHER_LOG_DIR", platformdirs.user_log_dir(APP, appauthor=False))


def default_config_file() -> Path:
    return config_dir() / "config.toml"


def config_file(explicit: str | None = None) -> Path:
    """The config file to use: ``--config``, then ``$SECOP_WATCHER_CONFIG``, then the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("SECOP_WATCHER_CONFIG")
    if env:
        return Path(env).expanduser()
    return default_config_file()


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` if needed and make it private (0700 on POSIX); return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix":
        path.chmod(0o700)
    return path
