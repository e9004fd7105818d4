"""What a fresh Gloo install (Helm defaults) holds, as manifests.

Sources: ``install/helm/gloo/templates/_8-default-gateways.tpl`` (the Gateway),
``templates/18-settings.yaml`` and ``values-template.yaml`` (the Settings).
"""

from __future__ import annotations

from typing import Any

from gloo_nb.models.resources import HELM_INVALID_ROUTE_BODY

GLOO_NAMESPACE = "gloo-system"
"""The install namespace of the Helm chart's defaults."""

PROXY_NAME = "gateway-proxy"
"""The default proxy name."""


def helm_default_gateway_manifest() -> dict[str, Any]:
    """Return the Helm chart's default HTTP Gateway (``gateway-proxy``, ``::``:8080).

    Returns:
        The manifest as a dict.
    """
    return {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "Gateway",
        "metadata": {"name": PROXY_NAME, "namespace": GLOO_NAMESPACE, "labels": {"app": "gloo"}},
        "spec": {"bindAddress": "::", "bindPort": 8080, "httpGateway": {}, "ssl": False,
                 "proxyNames": [PROXY_NAME], "useProxyProto": False},
    }


def helm_default_ssl_gateway_manifest() -> dict[str, Any]:
    """Return the Helm chart's default HTTPS Gateway (``gateway-proxy-ssl``, ``::``:8443, ``ssl: true``).

    ``templates/8-default-gateways.yaml`` at v1.3.20 and ``_8-default-gateways.tpl`` now render it beside
    ``gateway-proxy`` for every ``gatewayProxies`` entry unless ``disableHttpsGateway``/``disableGeneratedGateways``
    (``bindPort`` is ``podTemplate.httpsPort``). It binds only VirtualServices with ``sslConfig``.

    Returns:
        The manifest as a dict.
    """
    made = helm_default_gateway_manifest()
    made["metadata"]["name"] = f"{PROXY_NAME}-ssl"
    made["spec"].update(bindPort=8443, ssl=True)
    return made


VALIDATION_MODES = ("accept", "errors", "strict", "off")
"""``gloo-nb sandbox start --validation``: how the webhook is set up in ``Settings.spec.gateway.validation``."""


def validation_block(mode: str, *, profile: str = "current") -> dict[str, Any] | None:
    """``Settings.spec.gateway.validation`` for a ``--validation`` mode, as the Helm chart renders it.

    ``templates/18-settings.yaml`` (v1.3.20 and now) writes the block when ``gateway.validation.enabled``
    (default true), ``alwaysAccept`` from ``gateway.validation.alwaysAcceptResources`` (default true) and, in
    current charts, ``allowWarnings`` from ``gateway.validation.allowWarnings`` (default true).

    Args:
        mode: ``accept`` (Helm's default: the webhook admits everything and only logs), ``errors``
            (``alwaysAcceptResources=false``: errors are refused), ``strict`` (also ``allowWarnings=false``:
            warnings are refused too; 1.3 has no such setting, so ``strict`` is ``errors`` there) or ``off``
            (``gateway.validation.enabled=false``: no block, no webhook).
        profile: ``1.3`` or ``current``.

    Returns:
        The block, or None for ``off``.

    Raises:
        ValueError: An unknown mode.
    """
    if mode not in VALIDATION_MODES:
        raise ValueError(f"validation mode must be one of {', '.join(VALIDATION_MODES)}, got {mode!r}")
    if mode == "off":
        return None
    block: dict[str, Any] = {"alwaysAccept": mode == "accept", "proxyValidationServerAddr": "gloo:9988"}
    if profile != "1.3":
        block["allowWarnings"] = mode != "strict"
    return block


def helm_default_settings_manifest(*, profile: str = "current") -> dict[str, Any]:
    """Return the Helm chart's default Settings ``gloo-system/default``.

    Args:
        profile: ``1.3`` or ``current``; 1.3's Settings had no ``allowWarnings``.

    Returns:
        The manifest as a dict.
    """
    validation: dict[str, Any] = {"alwaysAccept": True, "proxyValidationServerAddr": "gloo:9988"}
    if profile != "1.3":
        validation["allowWarnings"] = True
    return {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Settings",
        "metadata": {"name": "default", "namespace": GLOO_NAMESPACE, "labels": {"app": "gloo"}},
        "spec": {
            "discoveryNamespace": GLOO_NAMESPACE,
            "gloo": {
                "xdsBindAddr": "0.0.0.0:9977",
                "invalidConfigPolicy": {
                    "replaceInvalidRoutes": False,
                    "invalidRouteResponseCode": 404,
                    "invalidRouteResponseBody": HELM_INVALID_ROUTE_BODY,
                },
            },
            "gateway": {"validation": validation},
            "kubernetesArtifactSource": {},
            "kubernetesConfigSource": {},
            "kubernetesSecretSource": {},
            "refreshRate": "60s",
        },
    }
