"""A loopback TCP proxy in front of Postgres that cuts a connection after a statement reached the server but
before its reply reached the client: the catalog commit whose outcome the client cannot know (RELIABILITY.md,
"cut the catalog connection after COMMIT but before its reply").

Bytes pass through unchanged. When armed, the first client message that ``match`` accepts is forwarded, the
proxy waits ``settle_s`` for the server to execute (and, autocommitted, commit) it, and then closes both sides
without relaying the answer. Disarmed, it is a plain proxy. Point the client at it with ``prepareThreshold=0``
so pgjdbc sends the statement's text every time.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("anemos.pgproxy")


def iceberg_commit(message: bytes) -> bool:
    """The JDBC catalog's commit: the compare-and-swap of a table's metadata location."""
    return b"UPDATE iceberg_tables" in message and b"metadata_location" in message


@dataclass
class Cut:
    at: float
    statement: str


@dataclass
class CutProxy:
    upstream: tuple[str, int]
    match: Callable[[bytes], bool] = iceberg_commit
    settle_s: float = 1.0
    host: str = "127.0.0.1"
    cuts: list[Cut] = field(default_factory=list)
    port: int = 0
    _armed: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None

    def start(self) -> "CutProxy":
        self._listener = socket.create_server((self.host, 0))
        self._listener.settimeout(0.5)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="pgproxy", daemon=True).start()
        log.info("postgres proxy on %s:%d -> %s:%d", self.host, self.port, *self.upstream)
        return self

    def arm(self) -> None:
        """Cut after the next matching statement (once)."""
        self._armed.set()

    @property
    def armed(self) -> bool:
        return self._armed.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = (client, server)
            threading.Thread(target=self._pump, args=(client, server, pair, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, pair, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket],
              from_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client and self._armed.is_set() and self.match(data):
                    self._armed.clear()
                    dst.sendall(data)
                    time.sleep(self.settle_s)  # the server executes and commits; its answer is never relayed
                    text = data[data.find(b"UPDATE"):][:80].decode(errors="replace")
                    self.cuts.append(Cut(time.time(), text))
                    log.warning("cut a connection after the server took: %s", text)
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
