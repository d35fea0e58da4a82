"""The inline proxy as a :class:`~monitor.sources.base.Source`: its upstream session and readiness."""

from __future__ import annotations

import aiohttp
from yarl import URL

from monitor.admin import upstream_reachable
from monitor.export.labels import ModelLabels
from monitor.export.metrics import Metrics
from monitor.sampling import SampleQueue, Sampler
from monitor.settings import Settings
from monitor.shedding import Shedder
from monitor.sources.proxy import Proxy
from monitor.sources.upstream import open_session

__all__ = ["ProxySource"]


class ProxySource:
    """Owns the upstream session; ``proxy`` is set while started. Ready when the upstream accepts TCP.

    Parameters
    ----------
    settings
        The monitor's settings (upstream, sampling, models).
    queue
        Where sampled copies are offered.
    metrics
        Where the proxy counts.
    shedder
        Adaptive sampling's state, when it is on.

    """

    name = "upstream"

    def __init__(
        self, settings: Settings, queue: SampleQueue, metrics: Metrics, shedder: Shedder | None = None
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.metrics = metrics
        self.shedder = shedder
        self.proxy: Proxy | None = None
        self._session: aiohttp.ClientSession | None = None
        self._url = URL(settings.upstream.url)

    async def start(self) -> None:
        """Open the pooled upstream session and build the proxy around it."""
        s = self.settings
        self._session = open_session(s.upstream)
        labels = ModelLabels(s.models, s.max_auto_models, self.metrics.add_model)
        sampler = Sampler(s.sampling, shedder=self.shedder, on_shed=self.queue.shed)
        self.proxy = Proxy(
            self._url,
            self._session,
            sampler,
            self.queue,
            labels,
            self.metrics,
            s.sampling.capture_max_bytes,
            s.sampling.canary_header,
        )

    async def stop(self) -> None:
        """Close the session (the server has already waited for in-flight requests)."""
        if self._session is not None:
            await self._session.close()

    async def ready(self) -> bool:
        """Whether a TCP connection to the upstream opens."""
        return await upstream_reachable(self._url)
