"""What a run ran on: Python, platform, installed packages, git commit and dirty flag, command line.

Captured once per process (package lists do not change under a running job) and stored with each
run, so "what code and libraries produced this model?" always has an answer.

Example::

    env = capture_environment()
    env["python"]          # '3.11.7'
    env["git"]["commit"]   # 'a1b2c3...' or absent outside a repository
"""

from __future__ import annotations

import functools
import getpass
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from typing import Any

__all__ = ["capture_environment", "current_user"]


def current_user() -> str:
    """The user name runs and events are attributed to (``ASSAY_USER`` overrides the OS user)."""
    explicit = os.environ.get("ASSAY_USER")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@functools.lru_cache(maxsize=16)
def _git_info(cwd: str) -> dict[str, Any] | None:
    """Commit, branch and dirty flag; cached per folder for the life of the process."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "root": git("rev-parse", "--show-toplevel"),
    }


@functools.cache
def _packages() -> dict[str, str]:
    pkgs: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            pkgs[name.lower()] = dist.version
    return dict(sorted(pkgs.items()))


def capture_environment(cwd: str | None = None) -> dict[str, Any]:
    """A JSON-safe description of the current process's environment."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "executable": sys.executable,
        "command": [sys.executable, *sys.argv] if sys.argv and sys.argv[0] else [sys.executable],
        "cwd": cwd or os.getcwd(),
        "packages": _packages(),
    }
    git = _git_info(cwd or os.getcwd())
    if git is not None:
        env["git"] = dict(git)
    return env
