"""Where the execute step runs: a local pool of sandbox slots, or Dask distributed workers.

An engine receives notebook text and the working copy's bytes and returns executed notebook text
and the files the run wrote.
It never sees the gradebook, the key or the ledger. On a Dask worker the sandbox is set up on the
worker itself; a worker that cannot set it up refuses (raises SandboxError) rather than run
learner code unsandboxed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from kit.errors import GradingError

from .execute import Executed, UnsafeNoSandboxBroker
from .sandbox import Job, Limits, Reply, Sandbox, WarmPool

__all__ = ["Engine", "LocalEngine", "DaskEngine", "make_engine", "remote_execute"]


class Engine(Protocol):
    name: str
    workers: int

    def submit(self, job: Job, limits: Limits) -> Future[Executed]: ...

    def close(self) -> None: ...


class LocalEngine:
    """A pool of sandbox slots on this machine, one thread waiting on each sandboxed process."""

    name = "local"

    def __init__(self, workers: int | None = None, *, unsafe_no_sandbox: bool = False) -> None:
        self.workers = workers or max(1, os.cpu_count() or 1)
        self._unsafe = UnsafeNoSandboxBroker() if unsafe_no_sandbox else None
        self._sandbox = None if unsafe_no_sandbox else Sandbox.create()
        self._warm = None if self._sandbox is None else WarmPool(self._sandbox, standby=self.workers)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="credkit-slot")

    def _run(self, job: Job, limits: Limits) -> Executed:
        t0 = time.monotonic()
        if self._unsafe is not None:
            done = self._unsafe.execute(("", "", ""), job, limits)
            return dataclasses.replace(done, seconds=time.monotonic() - t0)
        assert self._warm is not None
        return Executed(self._warm.execute(job, limits), True, self.name, time.monotonic() - t0)

    def submit(self, job: Job, limits: Limits) -> Future[Executed]:
        return self._pool.submit(self._run, job, limits)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._warm is not None:
            self._warm.close()
        if self._sandbox is not None:
            self._sandbox.close()


def remote_execute(job: Job, limits: dict[str, Any]) -> tuple[Reply, str, float]:
    """Runs on a Dask worker: execute in that worker's sandbox. Returns (what it executed and wrote,
    worker address, seconds).

    Raises SandboxError when the worker cannot set up the sandbox: it never runs learner code bare.
    """
    from distributed import get_worker

    global _WORKER_POOL
    t0 = time.monotonic()
    if _WORKER_POOL is None:
        _WORKER_POOL = WarmPool(Sandbox.create(), standby=1)
    reply = _WORKER_POOL.execute(job, Limits(**{**limits, "extra_arguments": tuple(limits["extra_arguments"]),
                                               "preload": tuple(limits["preload"])}))
    return reply, get_worker().address, time.monotonic() - t0


_WORKER_POOL: WarmPool | None = None  # one per Dask worker process


class DaskEngine:
    """Dask distributed: ``local:N`` starts a LocalCluster of N single-threaded worker processes;
    ``tcp://host:port`` joins an existing scheduler."""

    name = "dask"

    def __init__(self, cluster: str) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a pinned dependency
            raise GradingError("the Dask engine needs the 'distributed' package") from exc
        self._cluster = None
        self.worker_addresses: set[str] = set()
        try:
            if cluster.startswith("local:"):
                try:
                    n = int(cluster.split(":", 1)[1])
                except ValueError:
                    raise GradingError(f"--cluster {cluster}: expected local:N with N a number") from None
                if n < 1:
                    raise GradingError(f"--cluster {cluster}: N must be at least 1")
                # Its HTTP server on loopback, on a free port (None still means 8787: a second
                # cluster on the machine would warn and move).
                self._cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                    silence_logs=40,
                )
                self._client = Client(self._cluster)
            elif cluster.startswith("tcp://") or cluster.startswith("tls://"):
                self._client = Client(cluster, timeout=5)
            else:
                raise GradingError(f"--cluster {cluster}: expected local:N or tcp://host:port")
        except GradingError:
            raise
        except (OSError, TimeoutError) as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None
        info = self._client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))

    def submit(self, job: Job, limits: Limits) -> Future[Executed]:
        dask_future = self._client.submit(remote_execute, job, limits.as_dict(), pure=False)
        result: Future[Executed] = Future()

        def done(f: Any) -> None:
            try:
                reply, address, seconds = f.result()
            except BaseException as exc:  # the worker's error travels to the coordinator
                result.set_exception(exc)
                return
            self.worker_addresses.add(address)
            result.set_result(Executed(reply, True, f"dask:{address}", seconds))

        dask_future.add_done_callback(done)
        return result

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_engine(cluster: str | None, workers: int | None, *, unsafe_no_sandbox: bool) -> Engine:
    if cluster:
        if unsafe_no_sandbox:
            raise GradingError("--unsafe-no-sandbox is only for the local engine")
        return DaskEngine(cluster)
    return LocalEngine(workers, unsafe_no_sandbox=unsafe_no_sandbox)
