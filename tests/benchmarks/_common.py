"""Helpers shared by the benchmark programs (not a test module, not a benchmark).

Kept free of engine imports so that child processes measuring memory pay
only for what they use.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import select
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def quickfix_available() -> bool:
    """True when ``import quickfix`` works (checked in a child: a failed or
    half-built binding must not take this process with it)."""
    try:
        r = subprocess.run([sys.executable, "-c", "import quickfix"], capture_output=True,
                           timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def env_value(key: str) -> str | None:
    """``tests/realparts.env_value`` without importing pytest: the
    environment first, then the file the test environment scripts write."""
    if os.environ.get(key):
        return os.environ[key]
    cache = Path(os.environ.get("FIXPLUS_CACHE", str(Path.home() / ".cache" / "pyfixmsg-plus")))
    env_file = Path(os.environ.get("FIXPLUS_ENV_FILE", str(cache / "test-env")))
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return None


def percentile(sorted_values: Sequence[int | float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (q in 0..1)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def raise_nofile(wanted: int | None = None) -> int:
    """Raise RLIMIT_NOFILE's soft limit (to the hard limit, or ``wanted``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None or hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target == resource.RLIM_INFINITY:
        target = max(soft, 1 << 20)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for engines that
    cannot listen on port 0 and report the bound port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``proc``, '' on EOF, TimeoutError after ``timeout``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no output from {proc.args!r} within {timeout:.0f} s")
    return proc.stdout.readline()


def stop_child(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Close the child's stdin (our 'please stop'), then wait; kill it (by
    its own pid) if it does not exit."""
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    # after "pid (comm) ": state is field 3, utime field 14, stime field 15
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def proc_rss_bytes(pid: int) -> int:
    """Resident set size of a process from /proc/<pid>/status (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
