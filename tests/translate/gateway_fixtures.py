"""Gateway manifests shared by the gateway option and gateway kind tests (tests only)."""

from __future__ import annotations

from typing import Any

from gloo_nb.models.codec import parse_object

GS = "gloo-system"


def obj(kind: str, name: str, spec: dict[str, Any], ns: str = GS, group: str = "gateway.solo.io") -> Any:
    parsed = parse_object({"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": name, "namespace": ns},
                           "spec": spec})
    assert parsed.resource is not None, parsed
    return parsed.resource


def gateway(spec: dict[str, Any], name: str = "gateway-proxy") -> Any:
    return obj("Gateway", name, {"bindAddress": "::", "bindPort": 8080, **spec})


def direct_vs(name: str = "v", domains: tuple[str, ...] = ("*",)) -> Any:
    return obj("VirtualService", name, {"virtualHost": {"domains": list(domains),
                                                        "routes": [{"directResponseAction": {"status": 200}}]}})


def static_upstream(name: str, port: int = 9411) -> Any:
    return obj("Upstream", name, {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]}}, group="gloo.solo.io")


FULL_HCM: dict[str, Any] = {
    "useRemoteAddress": True, "xffNumTrustedHops": 2, "skipXffAppend": True, "via": "gloo",
    "generateRequestId": False, "proxy100Continue": True, "streamIdleTimeout": "1.5s", "idleTimeout": "30s",
    "maxRequestHeadersKb": 90, "requestTimeout": "60s", "requestHeadersTimeout": "5s", "drainTimeout": "2s",
    "delayedCloseTimeout": "1s", "serverName": "gloo-edge", "acceptHttp10": True,
    "defaultHostForHttp10": "example.com", "preserveExternalRequestId": True,
    "serverHeaderTransformation": "PASS_THROUGH", "pathWithEscapedSlashesAction": "UNESCAPE_AND_REDIRECT",
    "codecType": "HTTP1", "mergeSlashes": True, "normalizePath": False, "maxConnectionDuration": "300s",
    "maxStreamDuration": "120s", "maxHeadersCount": 50, "maxRequestsPerConnection": 100,
    "headersWithUnderscoresAction": "REJECT_CLIENT_REQUEST", "stripAnyHostPort": True,
    "allowChunkedLength": True, "enableTrailers": True, "properCaseHeaderKeyFormat": True,
    "appendXForwardedPort": True,
    "upgrades": [{"websocket": {"enabled": False}}, {"connect": {"enabled": True}}],
    "forwardClientCertDetails": "APPEND_FORWARD",
    "setCurrentClientCertDetails": {"subject": True, "dns": True},
    "tracing": {"requestHeadersForTags": ["x-team"], "verbose": True,
                "tracePercentages": {"clientSamplePercentage": 10, "randomSamplePercentage": 20},
                "environmentVariablesForTags": [{"tag": "pod", "name": "POD_NAME", "defaultValue": "x"}],
                "literalsForTags": [{"tag": "env", "value": "prod"}],
                "zipkinConfig": {"collectorUpstreamRef": {"name": "zipkin", "namespace": GS},
                                 "collectorEndpoint": "/api/v2/spans", "collectorEndpointVersion": "HTTP_JSON"}},
}

FULL_LISTENER: dict[str, Any] = {
    "perConnectionBufferLimitBytes": 32768,
    "socketOptions": [{"description": "SO_KEEPALIVE", "level": 1, "name": 9, "intValue": 1,
                       "state": "STATE_LISTENING"}],
    "connectionBalanceConfig": {"exactBalance": {}},
    "proxyProtocol": {"rules": [{"tlvType": 2, "onTlvPresent": {"metadataNamespace": "ns", "key": "authority"}}]},
    "listenerAccessLoggingService": {"accessLog": [
        {"fileSink": {"path": "/dev/stdout", "stringFormat": "%DOWNSTREAM_REMOTE_ADDRESS%\n"}}]},
    "accessLoggingService": {"accessLog": [
        {"fileSink": {"path": "/dev/stdout", "stringFormat": "[%START_TIME%] %REQ(:METHOD)%\n"}},
        {"fileSink": {"path": "/dev/stdout", "jsonFormat": {"method": "%REQ(:METHOD)%", "path": "%REQ(:PATH)%"}}},
    ]},
}
