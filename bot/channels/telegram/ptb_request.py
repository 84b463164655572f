"""python-telegram-bot's Bot API calls made with aiohttp instead of httpx.

PTB sends every call through a ``telegram.request.BaseRequest``; its own, ``HTTPXRequest``,
goes through httpx, httpcore and anyio, which cost about 2 ms of CPU per call on this
project's benchmark machine against 0.25 ms for aiohttp (``bench/ptb_http_pool.py``) — most
of why PTB answered three times fewer updates per second than aiogram (docs/benchmarks.md).
This class implements the same contract as ``HTTPXRequest``: parameters form-encoded,
multipart when files are sent, PTB's four time-outs, and ``TimedOut``/``NetworkError`` for
what goes wrong on the way (Telegram's own errors are mapped by PTB from the status code).
"""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

ODVFloat = float | None | object  # PTB's "DefaultValue or float or None" time-out arguments


def _seconds(value: object) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    raise TypeError(f"a time-out must be a number of seconds or None, not {value!r}")


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` over one ``aiohttp.ClientSession`` with a bounded connection pool.

    ``pool_timeout`` is how long a call may wait for a free connection (aiohttp counts that
    wait in its connect time-out, so the two are added); ``None`` waits as long as needed.
    """

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._size = connection_pool_size
        self._read, self._write = read_timeout, write_timeout
        self._connect, self._pool = connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._size, ttl_dns_cache=3600)
            self._session = aiohttp.ClientSession(connector=connector)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVFloat = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVFloat = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVFloat = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVFloat = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest.initialize() must be awaited before requests")
        read = self._read if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        connect = self._connect if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        pool = self._pool if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
        write = self._write if write_timeout is BaseRequest.DEFAULT_NONE else write_timeout
        read, connect, pool, write = (_seconds(x) for x in (read, connect, pool, write))
        # aiohttp has no separate pool time-out: the connect time-out includes the wait for a
        # free connection, so it gets both. Sending has no time-out of its own either: a slow
        # upload is bounded by the connect and read time-outs around it plus the write one.
        total_connect = None if connect is None or pool is None else connect + pool
        parts = [x for x in (total_connect, read, write) if x is not None]
        total = sum(parts) if len(parts) == 3 else None
        timeout = aiohttp.ClientTimeout(total=total, sock_read=read, connect=total_connect)
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None and request_data.contains_files:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mime) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data = form
        elif request_data is not None:
            data = request_data.json_parameters
        try:
            async with self._session.request(
                method, url, data=data, timeout=timeout, headers={"User-Agent": self.USER_AGENT}
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
