"""python-telegram-bot's Bot API calls made with aiohttp instead of httpx.

PTB sends every call through a ``telegram.request.BaseRequest``, its documented extension
point for other HTTP clients. Its own ``HTTPXRequest`` costs several times the CPU per call
of aiohttp (docs/benchmarks.md), and the calls are most of what PTB does per update. This
class keeps ``HTTPXRequest``'s contract: parameters form-encoded, multipart when files are
sent, PTB's four time-outs, and ``TimedOut``/``NetworkError`` for what goes wrong on the way
(PTB maps Telegram's own errors from the status code).
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
    Its attributes carry no leading underscore: ``BaseRequest`` may add private ones.
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
        self.pool_size = connection_pool_size
        self.timeouts = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self.client: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self.timeouts["read"]

    async def initialize(self) -> None:
        if self.client is None or self.client.closed:
            connector = aiohttp.TCPConnector(limit=self.pool_size, ttl_dns_cache=3600)
            self.client = aiohttp.ClientSession(connector=connector)

    async def shutdown(self) -> None:
        if self.client is not None and not self.client.closed:
            await self.client.close()

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
        if self.client is None or self.client.closed:
            raise RuntimeError("AiohttpRequest.initialize() must be awaited before requests")
        given = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout,
                 "pool": pool_timeout}  # fmt: skip
        read, write, connect, pool = (
            _seconds(self.timeouts[name] if value is BaseRequest.DEFAULT_NONE else value)
            for name, value in given.items()
        )
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
            async with self.client.request(
                method, url, data=data, timeout=timeout, headers={"User-Agent": self.USER_AGENT}
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
