"""The one module that imports every protobuf module gloo_nb needs to resolve ``Any`` in xDS and config dumps.

``google.protobuf.json_format`` and ``Any.Unpack`` look types up in the default descriptor pool, which only knows
modules that were imported. Importing this module registers the Envoy v3 resource types, the admin config dump
types and the extensions Gloo puts into ``typed_config`` (router, HTTP connection manager, upstream
``HttpProtocolOptions``, TLS, common HTTP filters, access loggers). Gloo's own filter types
(``type.googleapis.com/io.solo...``) are not in xds-protos: :func:`resolvable` tells callers to skip them, except
the transformation filter's ``envoy.api.v2.filter.http.FilterTransformations``, which every HTTP listener of Gloo
carries by default and :mod:`gloo_nb.translate.http_filters` registers (its scalar fields).
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

__all__ = [
    "TYPE_CLUSTER",
    "TYPE_ENDPOINT",
    "TYPE_LISTENER",
    "TYPE_ORDER",
    "TYPE_ROUTE",
    "TYPE_SHORT",
    "loaded_modules",
    "message_class",
    "resolvable",
    "stand_in_fields",
]

TYPE_LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
TYPE_ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
TYPE_CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
TYPE_ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"

# Envoy's subscription order over ADS: clusters, their endpoints, listeners, their routes.
TYPE_ORDER = (TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE)

# Short names as Envoy's stats and people use them.
TYPE_SHORT = {TYPE_LISTENER: "lds", TYPE_ROUTE: "rds", TYPE_CLUSTER: "cds", TYPE_ENDPOINT: "eds"}

# Module paths, not imports: a module missing from an older xds-protos must not break the import of this one.
_MODULES = (
    # Resources and discovery.
    "envoy.config.listener.v3.listener_pb2",
    "envoy.config.route.v3.route_pb2",
    "envoy.config.route.v3.scoped_route_pb2",
    "envoy.config.cluster.v3.cluster_pb2",
    "envoy.config.endpoint.v3.endpoint_pb2",
    "envoy.config.bootstrap.v3.bootstrap_pb2",
    "envoy.service.discovery.v3.discovery_pb2",
    "envoy.extensions.transport_sockets.tls.v3.tls_pb2",
    "envoy.extensions.transport_sockets.tls.v3.secret_pb2",
    "envoy.extensions.transport_sockets.raw_buffer.v3.raw_buffer_pb2",
    # Admin.
    "envoy.admin.v3.config_dump_pb2",
    "envoy.admin.v3.config_dump_shared_pb2",
    "envoy.admin.v3.clusters_pb2",
    "envoy.admin.v3.listeners_pb2",
    "envoy.admin.v3.server_info_pb2",
    "envoy.admin.v3.init_dump_pb2",
    # Network filters.
    "envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2",
    "envoy.extensions.filters.network.tcp_proxy.v3.tcp_proxy_pb2",
    "envoy.extensions.filters.network.rbac.v3.rbac_pb2",
    "envoy.extensions.filters.network.ext_authz.v3.ext_authz_pb2",
    "envoy.extensions.filters.network.local_ratelimit.v3.local_rate_limit_pb2",
    "envoy.extensions.filters.network.ratelimit.v3.rate_limit_pb2",
    "envoy.extensions.filters.network.sni_cluster.v3.sni_cluster_pb2",
    # Listener filters.
    "envoy.extensions.filters.listener.tls_inspector.v3.tls_inspector_pb2",
    "envoy.extensions.filters.listener.proxy_protocol.v3.proxy_protocol_pb2",
    "envoy.extensions.filters.listener.original_dst.v3.original_dst_pb2",
    "envoy.extensions.filters.listener.http_inspector.v3.http_inspector_pb2",
    # HTTP filters Gloo and its users commonly configure.
    "envoy.extensions.filters.http.router.v3.router_pb2",
    "envoy.extensions.filters.http.health_check.v3.health_check_pb2",
    "envoy.extensions.filters.http.cors.v3.cors_pb2",
    "envoy.extensions.filters.http.fault.v3.fault_pb2",
    "envoy.extensions.filters.http.buffer.v3.buffer_pb2",
    "envoy.extensions.filters.http.compressor.v3.compressor_pb2",
    "envoy.extensions.filters.http.gzip.v3.gzip_pb2",
    "envoy.extensions.filters.http.lua.v3.lua_pb2",
    "envoy.extensions.filters.http.ext_authz.v3.ext_authz_pb2",
    "envoy.extensions.filters.http.ratelimit.v3.rate_limit_pb2",
    "envoy.extensions.filters.http.local_ratelimit.v3.local_rate_limit_pb2",
    "envoy.extensions.filters.http.jwt_authn.v3.config_pb2",
    "envoy.extensions.filters.http.grpc_web.v3.grpc_web_pb2",
    "envoy.extensions.filters.http.grpc_json_transcoder.v3.transcoder_pb2",
    "envoy.extensions.filters.http.grpc_stats.v3.config_pb2",
    "envoy.extensions.filters.http.header_to_metadata.v3.header_to_metadata_pb2",
    "envoy.extensions.filters.http.csrf.v3.csrf_pb2",
    "envoy.extensions.filters.http.rbac.v3.rbac_pb2",
    "envoy.extensions.filters.http.wasm.v3.wasm_pb2",
    "envoy.extensions.filters.http.dynamic_forward_proxy.v3.dynamic_forward_proxy_pb2",
    "envoy.extensions.filters.http.aws_lambda.v3.aws_lambda_pb2",
    "envoy.extensions.filters.http.tap.v3.tap_pb2",
    # Clusters and upstreams.
    "envoy.extensions.upstreams.http.v3.http_protocol_options_pb2",
    # Upstream http1ProtocolOptions.preserveCaseHeaderKeyFormat (Gloo's httpprotocolhelpers.ConvertHttp1).
    "envoy.extensions.http.header_formatters.preserve_case.v3.preserve_case_pb2",
    "envoy.extensions.clusters.aggregate.v3.cluster_pb2",
    "envoy.extensions.clusters.dynamic_forward_proxy.v3.cluster_pb2",
    # The dynamic forward proxy DNS cache's resolvers (dynamic_forward_proxy/plugin.go convertTypedDnsResolverConfig).
    "envoy.extensions.network.dns_resolver.cares.v3.cares_dns_resolver_pb2",
    "envoy.extensions.network.dns_resolver.apple.v3.apple_dns_resolver_pb2",
    "envoy.extensions.compression.gzip.compressor.v3.gzip_pb2",
    "envoy.extensions.compression.gzip.decompressor.v3.gzip_pb2",
    # Access logs and tracers.
    "envoy.extensions.access_loggers.file.v3.file_pb2",
    "envoy.extensions.access_loggers.grpc.v3.als_pb2",
    "envoy.extensions.access_loggers.stream.v3.stream_pb2",
    "envoy.config.trace.v3.zipkin_pb2",
    # Formatters Gloo adds to file access log formats (als/converter.go getFormatterExtensions).
    "envoy.extensions.formatter.req_without_query.v3.req_without_query_pb2",
    "envoy.extensions.formatter.metadata.v3.metadata_pb2",
    "envoy.config.trace.v3.opentelemetry_pb2",
    # Retry priorities (Gloo's retries.previousPriorities, basicroute convertPolicy).
    "envoy.extensions.retry.priority.previous_priorities.v3.previous_priorities_config_pb2",
    # Request ids, resource monitors, matching, regex engines.
    "envoy.extensions.request_id.uuid.v3.uuid_pb2",
    "envoy.extensions.regex_engines.v3.google_re2_pb2",
    "envoy.extensions.matching.common_inputs.network.v3.network_inputs_pb2",
    "envoy.extensions.network.socket_interface.v3.default_socket_interface_pb2",
    # Typed structs (used to carry filter configs whose schema a proxy does not compile in).
    "xds.type.v3.typed_struct_pb2",
    "udpa.type.v1.typed_struct_pb2",
    "google.protobuf.struct_pb2",
    "google.protobuf.wrappers_pb2",
    "google.protobuf.empty_pb2",
    # Gloo's default transformation filter config (registered by the module that builds Gloo's HTTP filters).
    "gloo_nb.translate.http_filters",
)


def _load() -> tuple[str, ...]:
    loaded = []
    for name in _MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        loaded.append(name)
    return tuple(loaded)


_LOADED = _load()


def loaded_modules() -> tuple[str, ...]:
    """Return the pb2 modules this module imported (the ones the installed xds-protos has)."""
    return _LOADED


def _full_name(type_url: str) -> str:
    return type_url.rsplit("/", 1)[-1]


@functools.lru_cache(maxsize=1024)
def stand_in_fields(type_url: str) -> frozenset[str] | None:
    """The fields gloo_nb knows of a type it registered itself as a partial stand-in (name under ``gloo_nb/``).

    Args:
        type_url: e.g. ``type.googleapis.com/envoy.api.v2.filter.http.FilterTransformations``.

    Returns:
        The JSON and proto names of its fields, or None when the type is not such a stand-in (a real message
        from xds-protos, or unknown).
    """
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(_full_name(type_url))
    except KeyError:
        return None
    if not descriptor.file.name.startswith("gloo_nb/"):
        return None
    return frozenset(n for f in descriptor.fields for n in (f.name, f.json_name))


def resolvable(type_url: str) -> bool:
    """Whether ``type_url`` names a message type of the default descriptor pool.

    Args:
        type_url: e.g. ``type.googleapis.com/envoy.config.route.v3.RouteConfiguration``.

    Returns:
        False for types gloo_nb cannot decode (Gloo's own ``io.solo...`` filter configs, newer extensions).
    """
    try:
        descriptor_pool.Default().FindMessageTypeByName(_full_name(type_url))
    except KeyError:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def message_class(type_url: str) -> type[Message] | None:
    """Return the generated message class of ``type_url``, or None when it is not resolvable.

    Args:
        type_url: A type URL (the part after the last ``/`` is the full message name).

    Returns:
        The class, e.g. ``route_pb2.RouteConfiguration``.
    """
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(_full_name(type_url))
    except KeyError:
        return None
    cls: Any = message_factory.GetMessageClass(descriptor)
    return cls
