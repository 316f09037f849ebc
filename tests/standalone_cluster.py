"""A real Spark standalone cluster on loopback (one master, one worker) from the pyspark install.

Used by the cluster test: the jobs run under ``spark-submit --master spark://127.0.0.1:PORT``
exactly as on a real cluster, and the cluster is stopped by the process ids it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, seconds: float, procs: Sequence[subprocess.Popen]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a cluster process exited early with code {p.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


class StandaloneCluster:
    """Start with ``start()``, stop with ``stop()`` (kills exactly the pids it started)."""

    def __init__(self, log_dir: Path, worker_cores: int = 1, worker_memory: str = "1g"):
        self.log_dir = log_dir
        self.worker_cores = worker_cores
        self.worker_memory = worker_memory
        self.port = free_port()
        self.worker_port = free_port()
        self.procs: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_NO_DAEMONIZE": "1",
        }

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches its children
        )
        self.procs.append(proc)
        return proc

    def start(self) -> StandaloneCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._spawn(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(free_port()),
            ],
        )
        _wait_for_port(self.port, 60, self.procs)
        self._spawn(
            "worker",
            [
                "org.apache.spark.deploy.worker.Worker",
                self.url,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.worker_port),
                "--webui-port",
                str(free_port()),
                "--cores",
                str(self.worker_cores),
                "--memory",
                self.worker_memory,
                "--work-dir",
                str(self.log_dir / "work"),
            ],
        )
        _wait_for_port(self.worker_port, 60, self.procs)
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def __enter__(self) -> StandaloneCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()  # a master that started before the worker failed is stopped too
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(
        self,
        job: Path,
        args: Sequence[str],
        delta_args: Sequence[str],
        py_files: Path | None = None,
        executor_memory: str = "512m",
    ) -> str:
        """``spark-submit`` one job to this cluster; returns its output, raises on failure.

        The executor must fit the worker's memory (``worker_memory``), or it never starts.
        """
        command = [
            str(SPARK_HOME / "bin" / "spark-submit"),
            "--master",
            self.url,
            "--conf",
            "spark.driver.host=127.0.0.1",
            "--conf",
            f"spark.pyspark.python={sys.executable}",
            "--conf",
            f"spark.executor.memory={executor_memory}",
            "--conf",
            f"spark.cores.max={self.worker_cores}",
            "--driver-memory",
            "1g",
            *(["--py-files", str(py_files)] if py_files else []),
            *delta_args,
            str(job),
            *args,
        ]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(
                f"spark-submit {job.name} failed ({done.returncode}):\n{done.stderr[-4000:]}"
            )
        return done.stdout
