"""Injectable failures and latency: make the next N calls fail the way Telegram fails."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ApiError, retry_after_description

#: The HTML page nginx in front of the Bot API answers with when the backend is down.
NGINX_502_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
POLLING_METHOD = "getupdates"


@dataclass
class Fault:
    """A planned failure: the next ``times`` matching calls answer with ``status``.

    ``method`` None matches every method except getUpdates (so a background poller does not
    swallow a fault meant for a send); name getUpdates explicitly to break polling.
    ``raw_body`` replaces the JSON body (e.g. :data:`NGINX_502_PAGE`). ``delay`` is extra latency
    before the answer. ``chat_id`` limits the fault to calls for that chat (a broken chat).
    """

    status: int
    method: str | None = None
    times: int = 1
    retry_after: int | None = None
    description: str | None = None
    delay: float = 0.0
    raw_body: str | None = None
    chat_id: int | None = None
    hits: int = 0

    def matches(self, method: str, chat_id: object = None) -> bool:
        """Whether this fault applies to a call of ``method`` (case-insensitive) for ``chat_id``."""
        if self.hits >= self.times:
            return False
        if self.chat_id is not None and str(chat_id) != str(self.chat_id):
            return False
        if self.method is None:
            return method.lower() != POLLING_METHOD
        return self.method.lower() == method.lower()

    @property
    def exhausted(self) -> bool:
        """True once the fault has fired ``times`` times."""
        return self.hits >= self.times

    def to_error(self) -> ApiError:
        """The error this fault produces."""
        parameters = None
        description = self.description
        if self.status == 429:
            seconds = self.retry_after if self.retry_after is not None else 1
            parameters = {"retry_after": seconds}
            description = description or retry_after_description(seconds)
        elif self.retry_after is not None:
            parameters = {"retry_after": self.retry_after}
        return ApiError(self.status, description, parameters=parameters, raw_body=self.raw_body)


@dataclass
class FaultInjector:
    """The queue of planned faults and the per-method latency settings."""

    pending: list[Fault] = field(default_factory=list)
    fired: list[tuple[str, Fault]] = field(default_factory=list)
    latency: float = 0.0
    method_latency: dict[str, float] = field(default_factory=dict)

    def inject(
        self,
        *,
        status: int,
        method: str | None = None,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        delay: float = 0.0,
        raw_body: str | None = None,
        chat_id: int | None = None,
    ) -> Fault:
        """Queue a fault; see :class:`Fault`. Returns it so tests can check ``hits``."""
        fault = Fault(
            status=status,
            method=method,
            times=times,
            retry_after=retry_after,
            description=description,
            delay=delay,
            raw_body=raw_body,
            chat_id=chat_id,
        )
        self.pending.append(fault)
        return fault

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay every answer (or only ``method``'s) by ``seconds``; getUpdates is never delayed
        by the global setting."""
        if method is None:
            self.latency = seconds
        else:
            self.method_latency[method.lower()] = seconds

    def delay_for(self, method: str) -> float:
        """The configured latency for a call of ``method``."""
        specific = self.method_latency.get(method.lower())
        if specific is not None:
            return specific
        return 0.0 if method.lower() == POLLING_METHOD else self.latency

    def take(self, method: str, chat_id: object = None) -> Fault | None:
        """Consume and return the first fault matching ``method`` (and ``chat_id``), if any."""
        for fault in self.pending:
            if fault.matches(method, chat_id):
                fault.hits += 1
                self.fired.append((method, fault))
                if fault.exhausted:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Drop all planned faults and latency."""
        self.pending.clear()
        self.latency = 0.0
        self.method_latency.clear()
