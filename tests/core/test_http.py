"""The client address used for per-client limits cannot be forged through X-Forwarded-For."""

from django.test import RequestFactory

from carnet.core.http import client_address


def _request(xff=None):
    meta = {"REMOTE_ADDR": "10.0.0.5"}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


def test_without_proxies_the_socket_address_is_used(settings):
    settings.CARNET_PROXY_COUNT = 0
    assert client_address(_request("1.2.3.4")) == "10.0.0.5"


def test_behind_one_proxy_the_address_it_appended_is_used(settings):
    settings.CARNET_PROXY_COUNT = 1
    # the client forged "6.6.6.6"; our proxy appended the real peer "203.0.113.9"
    assert client_address(_request("6.6.6.6, 203.0.113.9")) == "203.0.113.9"


def test_missing_header_falls_back_to_socket_address(settings):
    settings.CARNET_PROXY_COUNT = 2
    assert client_address(_request("203.0.113.9")) == "10.0.0.5"
