"""How long to wait between requests: the same rules as the web page (``app/src/poll.rs``).

While a job runs, poll at the server's ``X-Poll-Interval`` (at least 0.25 s), stretching by
1.5x per unchanged answer up to 10 s. After a failure (no answer, 503, 429), wait 1 s,
doubling to 30 s, never less than the server's ``Retry-After``. Every delay is jittered
by +/-20 % so many clients do not retry in lockstep. Pure: the caller passes the random number.
"""

from dataclasses import dataclass
from typing import Optional

DEFAULT_HINT_S = 1.0
MIN_S = 0.25
IDLE_GROWTH = 1.5
IDLE_MAX_S = 10.0
FAILURE_FIRST_S = 1.0
FAILURE_MAX_S = 30.0
JITTER = 0.2


@dataclass
class Poller:
    """The poller's memory between polls."""

    failures: int = 0
    unchanged: int = 0
    hint_s: Optional[float] = None
    retry_after_s: Optional[float] = None

    def progressed(self, hint_s: Optional[float]) -> None:
        """An answer that differs from the last one."""
        self.failures, self.unchanged, self.retry_after_s = 0, 0, None
        self.hint_s = hint_s if hint_s is not None else self.hint_s

    def same(self, hint_s: Optional[float]) -> None:
        """An answer equal to the last one."""
        self.failures, self.retry_after_s = 0, None
        self.unchanged += 1
        self.hint_s = hint_s if hint_s is not None else self.hint_s

    def failed(self, retry_after_s: Optional[float]) -> None:
        """No usable answer."""
        self.failures += 1
        self.retry_after_s = retry_after_s

    def nominal_s(self) -> float:
        if self.failures > 0:
            backoff = min(FAILURE_FIRST_S * 2 ** min(self.failures - 1, 31), FAILURE_MAX_S)
            # Retry-After is the server's floor, even above our own ceiling.
            return max(backoff, self.retry_after_s or 0.0)
        hint = max(self.hint_s if self.hint_s is not None else DEFAULT_HINT_S, MIN_S)
        return min(hint * IDLE_GROWTH ** min(self.unchanged, 64), max(IDLE_MAX_S, hint))

    def delay_s(self, unit: float) -> float:
        """The wait before the next request; ``unit`` is uniform in [0, 1)."""
        unit = min(max(unit, 0.0), 1.0)
        jittered = self.nominal_s() * (1.0 - JITTER + 2.0 * JITTER * unit)
        # Jitter may lengthen a Retry-After but never shorten it.
        return max(jittered, self.retry_after_s or 0.0)
