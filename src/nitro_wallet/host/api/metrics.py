"""The API's Prometheus metrics, in a registry of its own per app (never the process-global one).

Labels are bounded sets chosen by the code, never by the caller: the route *template* (`/v1/keys/{key_id}`,
never a key id), the method if it is one the API knows (else "OTHER"), the status, the error code.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "ApiMetrics", "UNMATCHED_ROUTE", "INVALID_PATH"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "unmatched"  # no route had the path
INVALID_PATH = "invalid-path"  # refused before routing (not in normal form)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "nitro_wallet_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "nitro_wallet_http_request_duration_seconds",
            "Time from receiving a request to the end of its answer, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._enclave_errors = Counter(
            "nitro_wallet_enclave_errors",
            "Errors the enclave (or the channel to it) answered, by error code.",
            ["code"],
            registry=self.registry,
        )
        # labels() takes a lock and validates on every call; the label sets are small and fixed.
        self._request_children: dict[tuple[str, str, int], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        if method not in KNOWN_METHODS:
            method = OTHER_METHOD
        key = (route, method, status)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self._requests.labels(route, method, str(status))
        counter.inc()
        histogram = self._latency_children.get(route)
        if histogram is None:
            histogram = self._latency_children[route] = self._latency.labels(route)
        histogram.observe(seconds)

    def count_enclave_error(self, code: str) -> None:
        self._enclave_errors.labels(code).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
