"""Group commit for the server stores: a queue of jobs run by one task in batches.

A store turns each call into a :class:`Job` (the session key and a coroutine
function of the batch's transaction object) and :meth:`Writer.submit`\\ s it
before its first suspension point, so one session's calls run in call
order.  The writer task takes everything queued (up to ``max_batch`` jobs)
and hands the list to the store's ``execute`` coroutine, which runs it as
one transaction (or one round of writes) and sets each job's ``result`` or
``error``; then every caller is answered.  While one batch commits, new
calls pile up and form the next.  Used by the MySQL and MongoDB stores.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import StoreClosedError, StoreError

__all__ = ["Job", "Writer"]


class Job:
    __slots__ = ("error", "future", "key", "op", "result")

    def __init__(self, key: str, op: Callable[[Any], Awaitable[Any]],
                 future: asyncio.Future[Any]) -> None:
        self.key = key
        self.op = op
        self.future = future
        self.result: Any = None
        self.error: StoreError | None = None


class Writer:
    """One task running queued jobs in batches through ``execute``.

    ``translate`` turns an exception that escaped ``execute`` (a bug, or a
    cancellation) into the error every job of the batch gets; ``where``
    names the store in the error of jobs refused after :meth:`stop`.
    """

    def __init__(self, name: str, max_batch: int,
                 execute: Callable[[list[Job]], Awaitable[None]],
                 translate: Callable[[BaseException], StoreError], where: str) -> None:
        self.max_batch = max_batch
        self.where = where
        self._execute = execute
        self._translate = translate
        self.queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self.pending: dict[str, int] = {}
        self.task = asyncio.get_running_loop().create_task(self._run(), name=name)

    def submit(self, key: str, op: Callable[[Any], Awaitable[Any]]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[key] = self.pending.get(key, 0) + 1
        self.queue.put_nowait(Job(key, op, future))
        return future

    def idle(self, key: str) -> bool:
        """No queued job for ``key``: a read may bypass the writer."""
        return key not in self.pending

    async def stop(self) -> None:
        """Run what is queued, then end; later jobs get ``StoreClosedError``."""
        self.queue.put_nowait(None)
        with contextlib.suppress(Exception):  # answered to the callers already
            await self.task

    async def _run(self) -> None:
        stop = False
        while not stop:
            job = await self.queue.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < self.max_batch:
                try:
                    more = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            try:
                await self._execute(batch)
            except BaseException as e:  # a bug or cancellation: answer everyone
                for j in batch:
                    j.error = self._translate(e)
                if not isinstance(e, Exception):
                    raise
            finally:
                self._settle(batch)
        while not self.queue.empty():  # after stop: refuse what is left
            left = self.queue.get_nowait()
            if left is not None:
                left.error = StoreClosedError(f"{self.where} is closed")
                self._settle([left])

    def _settle(self, batch: list[Job]) -> None:
        for job in batch:
            n = self.pending.get(job.key, 1) - 1
            if n:
                self.pending[job.key] = n
            else:
                self.pending.pop(job.key, None)
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(job.result)
