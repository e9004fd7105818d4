"""The delegation tree widget for one of several proxies."""

from __future__ import annotations

import pytest

from gloo_nb.models import Gateway, HttpGateway, ObjectMeta, Snapshot, VirtualHost, VirtualService
from gloo_nb.translate import Translator
from gloo_nb.widgets.tree import DelegationTreeView

pytestmark = pytest.mark.unit


def test_the_view_shows_one_proxys_virtual_services():
    def gw(name):
        return Gateway(meta=ObjectMeta(name, "gloo-system"), bind_address="::", bind_port=8080, proxy_names=(name,),
                       http_gateway=HttpGateway(virtual_service_selector={"p": name}))

    def vs(name, proxy):
        return VirtualService(meta=ObjectMeta(name, "gloo-system", labels={"p": proxy}),
                              virtual_host=VirtualHost(domains=("*",)))
    t = Translator("current").translate(Snapshot.from_resources(
        [gw("gateway-proxy"), gw("internal"), vs("pub", "gateway-proxy"), vs("priv", "internal")]))
    view = DelegationTreeView(t, proxy="internal")
    assert view.tree.proxy == "internal"
    assert [n.label for n in view.tree.roots()] == ["VirtualService gloo-system/priv"]
    assert [n.label for n in DelegationTreeView(t).tree.roots()] == ["VirtualService gloo-system/priv",
                                                                     "VirtualService gloo-system/pub"]
