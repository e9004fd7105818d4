"""The sandbox's state directory is private to its user.

It holds the admin kubeconfig, every object (Secrets included), the audit log and pod logs, so
nobody else on the machine may read it. One mechanism: the directory is ``0700`` (an existing one
is tightened, contents included, whenever a sandbox starts there), the daemon runs with the umask
:data:`PRIVATE_UMASK` so that every file it and its children (Envoy, pods) create is ``0600``,
and files created outside the daemon (the store in-process, ``sandbox.log`` by the CLI) get an
explicit mode.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "private_dir"]

PRIVATE_UMASK = 0o077
"""No permission bits for group and others on anything the sandbox process creates."""


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode ``0700``) or make an existing one, and everything in it, private to its user.

    Files and directories under it lose their group and other permission bits; symlinks are left
    alone (their target may be anywhere) and not followed.

    Args:
        path: The state directory.

    Returns:
        ``path``.
    """
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            _tighten(Path(root) / name)
    return path


def _tighten(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:  # a pod log rotated away while we walk
        return
    if not stat.S_ISLNK(mode) and mode & 0o077:
        os.chmod(path, stat.S_IMODE(mode) & ~0o077)
