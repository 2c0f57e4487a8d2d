"""Fixtures that start a real OpenID provider (panva's oidc-provider, on loopback) and a proxy
that forges its ID tokens; both factories stop whatever they started at teardown."""

import pytest

from tests.federation.oidc_provider import Provider, TamperingProxy, start_provider


@pytest.fixture
def start_oidc_provider():
    """start_oidc_provider(config) -> Provider; see tests/federation/oidc_provider.py."""
    started: list[Provider] = []

    def start(config: dict) -> Provider:
        started.append(start_provider(config))
        return started[-1]

    yield start
    for provider in started:
        provider.stop()


@pytest.fixture
def tampering_proxy():
    """tampering_proxy(provider or issuer URL) -> TamperingProxy, started (its `url`)."""
    started: list[TamperingProxy] = []

    def start(upstream: Provider | str, *, unsigned: bool = False) -> TamperingProxy:
        issuer = upstream.issuer if isinstance(upstream, Provider) else upstream
        started.append(TamperingProxy(issuer, unsigned=unsigned).start())
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()
