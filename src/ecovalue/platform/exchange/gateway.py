"""The writer of this process's order books: one thread, batches, answers after the commit.

Requests from any number of threads (API workers, a benchmark's clients) queue here; the
writer takes everything queued (up to ``max_batch``) and runs it as one
:meth:`Market.execute <ecovalue.platform.exchange.trading.Market.execute>` — one database
transaction, one fsync — and only then resolves each request's future. While one batch
commits, the next fills up, so the commit cost is shared by every order in it (group
commit; decision 0123). A batch that fails is retried command by command, so one bad
command cannot fail the others; a command that still fails is answered with
:class:`NotRecorded`.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from ecovalue.errors import EcovalueError
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.exchange.trading import Ack, Market, Request


class NotRecorded(EcovalueError):
    """The request was not recorded (its transaction failed); nothing of it moved."""


@dataclass
class _Item:
    actor: Principal
    request: Request
    future: Future[Ack]


class Gateway:
    """Queue requests for the market's single writer thread."""

    def __init__(self, market: Market, max_batch: int = 1000):
        self.market = market
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.batches = 0  # batches committed (for the benchmark's report)

    def start(self) -> Gateway:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="exchange-writer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Answer what is queued, then stop the writer."""
        if self._thread is not None:
            self._stopping = True
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, actor: Principal, request: Request) -> Future[Ack]:
        """Queue ``request``; the future resolves once its batch is durable."""
        if self._thread is None or self._stopping:
            raise NotRecorded("the exchange's order writer is not running; try again shortly")
        future: Future[Ack] = Future()
        self._queue.put(_Item(actor, request, future))
        return future

    def run(self, actor: Principal, request: Request, timeout: float = 60.0) -> Ack:
        """Queue ``request`` and wait for its answer."""
        return self.submit(actor, request).result(timeout)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            while len(items) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._stopping = True
                    break
                items.append(nxt)
            self._execute(items)
            if self._stopping and self._queue.empty():
                return

    def _execute(self, items: list[_Item]) -> None:
        try:
            acks = self.market.execute([(i.actor, i.request) for i in items])
        except Exception as exc:  # the batch rolled back; retry one by one
            if len(items) > 1:
                for item in items:
                    self._execute([item])
                return
            items[0].future.set_exception(
                NotRecorded(f"the request was not recorded ({type(exc).__name__}: {exc}); "
                            "nothing moved — send it again")  # fmt: skip
            )
            return
        self.batches += 1
        for item, ack in zip(items, acks, strict=True):
            item.future.set_result(ack)
