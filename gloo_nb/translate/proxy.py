"""The Gloo Proxy: what the gateway translator hands to Gloo's proxy translator.

Shapes follow ``projects/gloo/api/v1/proxy.proto``; ``sources`` mirrors ``metadataStatic.sources``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gloo_nb.models import (
    DirectResponseAction,
    Matcher,
    RedirectAction,
    ResourceKey,
    RouteAction,
)


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """A flattened route on the Proxy.

    Attributes:
        matchers: Matchers (at least one after the gateway translator).
        route_action: ``routeAction``, upstream namespaces defaulted as Gloo does.
        redirect_action: ``redirectAction``.
        direct_response_action: ``directResponseAction``.
        options: Merged RouteOptions.
        name: Gloo route name (``""`` when no route on the branch is named).
        sources: Resources the route came from: its RouteTable, each ancestor RouteTable, then the VS.
    """

    matchers: tuple[Matcher, ...]
    route_action: RouteAction | None = None
    redirect_action: RedirectAction | None = None
    direct_response_action: DirectResponseAction | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    sources: tuple[ResourceKey, ...] = ()

    @property
    def owner(self) -> ResourceKey | None:
        """The resource whose content defines the route (the innermost source)."""
        return self.sources[0] if self.sources else None


@dataclass(frozen=True, slots=True)
class ProxyVirtualHost:
    """A virtual host on the Proxy, one per VirtualService.

    Attributes:
        name: ``<vs namespace>.<vs name>``.
        domains: Domains as written on the VS.
        routes: Routes in order.
        options: VirtualHostOptions.
        source: The VirtualService.
    """

    name: str
    domains: tuple[str, ...]
    routes: tuple[ProxyRoute, ...]
    options: Mapping[str, Any]
    source: ResourceKey


@dataclass(frozen=True, slots=True)
class ProxyTcpListener:
    """A Proxy ``tcpListener``: the ``tcpGateway`` copied as Gloo copies it (``tcp_translator.go``).

    Attributes:
        hosts: ``tcpHosts``, kept raw (protobuf JSON), in order.
        options: ``options`` (TcpListenerOptions), kept raw.
    """

    hosts: tuple[Mapping[str, Any], ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProxyMatchedListener:
    """One matched listener of a hybrid listener (``proxy.proto`` MatchedListener).

    Attributes:
        matcher: The matcher, kept raw: ``sslConfig``, ``sourcePrefixRanges``, ``passthroughCipherSuites``.
        virtual_hosts: Virtual hosts of a matched HTTP gateway, in order.
        options: HttpListenerOptions of a matched HTTP gateway (hcm settings already reconciled with a
            delegating parent's).
        tcp: The TCP listener of a matched TCP gateway; None for HTTP.
        source: The MatchableHttpGateway or MatchableTcpGateway it came from; None when inline.
        kind: ``http``, ``tcp``, or ``none`` for a matched gateway with no gateway type (Gloo keeps it on the
            Proxy; the proxy translator skips it).
    """

    matcher: Mapping[str, Any]
    virtual_hosts: tuple[ProxyVirtualHost, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    tcp: ProxyTcpListener | None = None
    source: ResourceKey | None = None
    kind: str = "http"


@dataclass(frozen=True, slots=True)
class ProxyListener:
    """An HTTP listener on the Proxy, one per Gateway.

    Attributes:
        name: ``listener-<bindAddress>-<bindPort>``.
        bind_address: Bind address.
        bind_port: Bind port.
        virtual_hosts: Virtual hosts in order.
        ssl: Whether the listener has ssl configurations.
        options: HttpListenerOptions.
        source: The Gateway.
        listener_options: The Gateway's ``options`` (ListenerOptions: access logging, buffer limits,
            socket options), which Gloo copies to the Proxy listener (``translator.go:makeListener``).
        tcp: The TCP listener of a ``tcpGateway`` (then ``virtual_hosts`` is empty); None for HTTP.
        matched: The matched listeners of a ``hybridGateway`` (then ``virtual_hosts`` is empty).
        use_proxy_proto: The Gateway's ``useProxyProto``.
        route_options: The Gateway's ``routeOptions`` (RouteConfigurationOptions).
        ssl_configurations: ``sslConfigurations``: the ``sslConfig`` of every VirtualService of an ssl
            gateway, in virtual-service order (``http_translator.go``), as written (references, no keys).
    """

    name: str
    bind_address: str
    bind_port: int
    virtual_hosts: tuple[ProxyVirtualHost, ...]
    ssl: bool
    options: Mapping[str, Any]
    source: ResourceKey
    listener_options: Mapping[str, Any] = field(default_factory=dict)
    tcp: ProxyTcpListener | None = None
    matched: tuple[ProxyMatchedListener, ...] = ()
    use_proxy_proto: bool | None = None
    route_options: Mapping[str, Any] = field(default_factory=dict)
    ssl_configurations: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Proxy:
    """A Gloo Proxy.

    Attributes:
        name: Proxy name (``gateway-proxy``).
        namespace: Write namespace (``gloo-system``).
        listeners: Listeners in order.
    """

    name: str
    namespace: str
    listeners: tuple[ProxyListener, ...] = ()

    @property
    def key(self) -> ResourceKey:
        """The Proxy's identity."""
        return ResourceKey("Proxy", self.namespace, self.name)
