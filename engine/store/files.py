"""Files a store creates: private to the engine's user.

A message store holds every message sent (and, before masking existed,
Logon passwords): its database file is created mode 0600, so that other
users of the host cannot read it whatever the umask.  SQLite gives the
``-wal`` and ``-shm`` files it creates next to a database the mode of the
database file, so creating the database file first is enough for all three.
A folder created for a store is mode 0700.

A file that already exists keeps its mode (an administrator may have
granted a backup group access on purpose); a warning is logged when it is
readable by others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700


def create_private_file(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True if created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            if mode & 0o077 and stat.S_ISREG(os.stat(path).st_mode):
                log.warning("store file %s is accessible to other users (mode %04o); "
                            "chmod 600 it unless that is intended", path, mode)
        return False
    except OSError:
        return False  # not creatable here: the database driver reports why
    os.close(fd)
    # The umask can only have narrowed the mode; make it exactly 0600.
    os.chmod(path, FILE_MODE)
    return True


def create_private_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` (and missing parents) with mode 0700; an existing
    folder is left as it is."""
    p = Path(path)
    if p.is_dir():
        return
    p.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(p, DIR_MODE)
