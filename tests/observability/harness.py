"""A real Prometheus scraping a running engine pair, and the dashboards' queries.

Used by the live dashboard test and by ``render_overview`` (the PNG in docs/):

* :func:`tools` finds ``prometheus`` and ``promtool`` (``tests/env/40-prometheus.sh``);
* :class:`Stack` starts ``tests.observability.loadpair`` (two engines trading,
  with faults) and a Prometheus server scraping both metrics endpoints every
  second, with its own temporary configuration and data directory;
* :func:`dashboard_queries` lists every panel query of the chart's dashboards
  and :func:`substitute` fills in the Grafana variables.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.realparts import REPO, env_value

DASHBOARDS = REPO / "charts" / "pyfixmsg-plus" / "dashboards"
ALERTS = REPO / "charts" / "pyfixmsg-plus" / "alerts"
RULE_TESTS = Path(__file__).with_name("alerts_test.yaml")
#: The session the session dashboard is checked with (it sees every fault).
SESSION = "FIX.4.4:CLIENT1->BROKER"


def tools() -> tuple[str | None, str | None]:
    """Paths of prometheus and promtool, or None where missing."""
    found = []
    for key, name in (("FIXPLUS_PROMETHEUS", "prometheus"), ("FIXPLUS_PROMTOOL", "promtool")):
        path = env_value(key) or shutil.which(name)
        found.append(path if path and os.access(path, os.X_OK) else None)
    return found[0], found[1]


# --------------------------------------------------------------------------
# dashboards


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}: {self.expr}"


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_queries() -> Iterator[Query]:
    for name, board in load_dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield Query(name, panel["title"], target["refId"], target["expr"])
        for var in board["templating"]["list"]:
            if var["type"] == "query":
                yield Query(name, f"variable {var['name']}", "-", var["definition"])


def substitute(expr: str, rate_interval: str = "30s", session: str = SESSION) -> str:
    """Grafana's variables as Grafana would fill them in."""
    return (expr.replace("$__rate_interval", rate_interval)
            .replace("${session}", session).replace("$session", session))


_LABEL_VALUES = re.compile(r"^label_values\((?P<metric>[^,]+),\s*(?P<label>\w+)\)$")


def variable_query(expr: str) -> tuple[str, str] | None:
    """``label_values(metric, label)`` -> (metric selector, label)."""
    m = _LABEL_VALUES.match(expr.strip())
    return (m["metric"].strip(), m["label"]) if m else None


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Names in a PromQL expression that look like metrics of ours or of the
    process collector (label values in quotes are ignored)."""
    bare = _STRINGS.sub('""', expr)
    return {n for n in _IDENT.findall(bare) if n.startswith(("fixplus_", "process_"))}


#: What prometheus_client's process collector exports (on Linux).
PROCESS_METRICS = frozenset({
    "process_cpu_seconds_total", "process_resident_memory_bytes",
    "process_virtual_memory_bytes", "process_start_time_seconds", "process_open_fds",
    "process_max_fds",
})


def unknown_metrics(names: set[str], metrics: dict[str, tuple[str, str]]) -> set[str]:
    """Names that neither engine/observability/metrics.py nor the process collector export."""
    bad = set()
    for name in names:
        if name in metrics or name in PROCESS_METRICS:
            continue
        base, _, suffix = name.rpartition("_")
        if suffix in ("bucket", "sum", "count") and metrics.get(base, ("",))[0] == "histogram":
            continue
        bad.add(name)
    return bad


# --------------------------------------------------------------------------
# a running stack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class Stack:
    """``with Stack(prometheus, seconds) as stack:`` an engine pair trading
    for ``seconds`` and a Prometheus server scraping it every second."""

    def __init__(self, prometheus: str, seconds: float, workdir: Path | None = None) -> None:
        self.prometheus_bin = prometheus
        self.seconds = seconds
        self._tmp = tempfile.TemporaryDirectory(prefix="fixplus-prom-")
        self.dir = workdir or Path(self._tmp.name)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.load: subprocess.Popen[str] | None = None
        self.prom: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.started = 0.0
        self.targets: list[str] = []
        self._logs: list[Any] = []

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self.started = time.time()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._logs = [open(self.dir / "load.log", "w"),  # noqa: SIM115 (closed in close())
                      open(self.dir / "prometheus.log", "w")]  # noqa: SIM115
        self.load = subprocess.Popen(
            [sys.executable, "-m", "tests.observability.loadpair", str(self.dir / "engines"),
             str(self.seconds), "--go"],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._logs[0],
            text=True)
        threading.Thread(target=self._read, args=(self.load,), daemon=True).start()
        words = self.wait_for("METRICS", 20).split()
        self.targets = [f"127.0.0.1:{p}" for p in words[1:]]
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = self.dir / "prometheus.yml"
        config.write_text(json.dumps({  # JSON is YAML
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in sorted(ALERTS.glob("*.yaml"))],
            "scrape_configs": [{"job_name": "fixplus", "static_configs": [
                {"targets": self.targets}]}],
        }))
        self.prom = subprocess.Popen(
            [self.prometheus_bin, f"--config.file={config}",
             f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=self._logs[1])
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.prom.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prometheus did not become ready: "
                                   + (self.dir / "prometheus.log").read_text()[-2000:])
            time.sleep(0.2)
        self.wait_scraped()
        assert self.load.stdin is not None
        self.load.stdin.write("go\n")
        self.load.stdin.flush()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line.strip())

    def wait_for(self, word: str, timeout: float) -> str:
        """The first line from the load generator starting with ``word``."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if line.split()[:1] == [word]:
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"load generator never said {word}; it said {self.seen}; "
                                   f"log: {self.log()[-3000:]}")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.load is not None and self.load.poll() is not None and self.lines.empty():
                    raise RuntimeError(f"load generator exited ({self.load.returncode}); "
                                       f"it said {self.seen}; log: {self.log()[-3000:]}") from None
                continue
            self.seen.append(line)
            if line.startswith("MISSING"):
                raise RuntimeError(f"load generator could not produce: {line}")

    def log(self) -> str:
        path = self.dir / "load.log"
        return path.read_text() if path.exists() else ""

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.loads(r.read())
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float,
                    step: str = "1s") -> list[dict[str, Any]]:
        data = self.get("/api/v1/query_range", query=expr, start=f"{start:.3f}",
                        end=f"{end:.3f}", step=step)
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_scraped(self, timeout: float = 20) -> None:
        """Until every target was scraped successfully at least 3 times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            up = self.query("count_over_time(up[1m]) and up == 1")
            if len(up) == len(self.targets) and all(float(s["value"][1]) >= 3 for s in up):
                return
            time.sleep(0.5)
        raise TimeoutError(f"prometheus did not scrape {self.targets}: {self.query('up')}")

    def close(self) -> None:
        for proc in (self.load, self.prom):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for f in self._logs:
            f.close()
        self._tmp.cleanup()


def finite_points(result: list[dict[str, Any]]) -> int:
    """Number of samples that are numbers (not NaN or Inf) in a query result."""
    n = 0
    for series in result:
        values = series.get("values") or ([series["value"]] if "value" in series else [])
        for _, text in values:
            if text not in ("NaN", "+Inf", "-Inf"):
                n += 1
    return n
