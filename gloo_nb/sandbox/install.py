"""What a Helm install of Gloo holds in ``gloo-system`` beside the Services, Settings and Gateways: the workloads.

The ``gloo`` Deployment (the control plane), one Deployment per gateway proxy (``gatewayProxies``), their
ServiceAccounts, each proxy's ``<proxy>-envoy-config`` ConfigMap and, with validation on, the
``ValidatingWebhookConfiguration`` and the ``gateway-validation-certs`` Secret that Gloo's certgen Job leaves. Names,
labels, selectors, ports and annotations are the chart's (``install/helm/gloo/templates/`` of solo-io/gloo at
v1.3.20 for ``1.3``, at main 8d57572e for ``current``), with Helm's default values.

For ``1.3`` also v1.3.20's ``gateway`` Deployment and ServiceAccount and, with validation on, the ``gateway``
Service: Gloo 1.3 ran the gateway translator and the validation webhook in their own Deployment. The sandbox is an
install with ``discovery.enabled=false``: it does not discover upstreams, so the ``discovery`` Deployment and its
ServiceAccount are not there.

The pods of these Deployments are not run by the kubelet: the ``gloo`` pod stands for the daemon's own control plane
(Ready while it serves; its container port 9977 maps to the real xDS server and, in ``current``, 8443 to Gloo's
validation webhook, :mod:`gloo_nb.sandbox.webhook_server`), 1.3's ``gateway`` pod for the part of the daemon that
translates gateway resources and validates (its 8443 maps to the same webhook server), and the ``gateway-proxy-<i>``
pods for the Envoy replicas the daemon runs. All carry :data:`~gloo_nb.sandbox.pod_objects.MANAGED_BY`, on the
pods and in the Deployments' pod templates, so that the ReplicaSet controller adopts and counts them but never
creates nor deletes any (:func:`~gloo_nb.sandbox.pod_objects.is_daemon_managed`); the daemon publishes a deleted
one again.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
from collections.abc import Sequence
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gloo_nb._types import Profile
from gloo_nb.errors import GlooNbError
from gloo_nb.models import Settings
from gloo_nb.models.codec import parse_object
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.deployment_controller import TEMPLATE_HASH_LABEL, template_hash
from gloo_nb.sandbox.envoy import bootstrap_config
from gloo_nb.sandbox.pod_objects import HOST_IP, MANAGED_BY, NODE_NAME, PORTS_ANNOTATION, rfc3339_now
from gloo_nb.sandbox.replicaset_controller import SAFE_CHARS
from gloo_nb.sandbox.store import ADMIN, ApiError, Store
from gloo_nb.translate.webhook import WebhookSettings

__all__ = [
    "CONTROLPLANE_MANAGER",
    "ENVOY_MANAGER",
    "GLOO_VERSIONS",
    "VALIDATION_SECRET",
    "WEBHOOK_CONFIGURATION",
    "WEBHOOK_PORT",
    "gateway_deployment",
    "gateway_pod_name",
    "gloo_deployment",
    "gloo_pod",
    "gloo_pod_name",
    "install_workloads",
    "create_missing",
    "proxy_config_map",
    "proxy_deployment",
    "service_accounts",
    "stored_template_hash",
    "validation_enabled",
    "validation_objects",
    "webhook_service",
]

NAMESPACE = "gloo-system"
GLOO_VERSIONS: dict[Profile, str] = {"1.3": "1.3.20", "current": "1.22.1"}
"""The Gloo release each profile stands for: its image tag. ``current`` models Gloo's main at 8d57572e (after
v1.22.0-beta10); v1.22.1 is the newest release of that line, so ``gloo_nb.app.cluster.profile_from_image`` reads
``current`` from it, as it reads ``1.3`` from 1.3.20."""
REGISTRY = "quay.io/solo-io"
"""values-template.yaml ``global.image.registry``."""
CONTROLPLANE_MANAGER = "sandbox-controlplane"
"""``MANAGED_BY`` of the gloo pod: the daemon's control plane."""
ENVOY_MANAGER = "sandbox-envoy"
"""``MANAGED_BY`` of the gateway proxies' pods: the daemon's Envoy replicas."""
XDS_PORT = 9977
VALIDATION_PORT = 9988
WEBHOOK_CONFIGURATION = f"gloo-gateway-validation-webhook-{NAMESPACE}"
"""5-gateway-validation-webhook-configuration.yaml: ``gloo-gateway-validation-webhook-{{ .Release.Namespace }}``."""
VALIDATION_SECRET = "gateway-validation-certs"
"""values-template.yaml ``gateway.validation.secretName`` (both versions)."""
WEBHOOK_PORT = 8443
"""The validation webhook's port: main's ``gloo.deployment.validationWebhookPort`` (the ``gloo`` Service's ``https``
443 -> 8443), v1.3.20's ``gateway`` container port ``https`` (``defaults.ValidationWebhookBindPort``)."""
LABELS_VOLUME: dict[str, Any] = {"name": "labels-volume", "downwardAPI": {"items": [
    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
_CERTS_VOLUME: dict[str, Any] = {"name": "validation-certs", "secret": {"defaultMode": 420,
                                                                        "secretName": "gateway-validation-certs"}}
_CERTS_MOUNT: dict[str, Any] = {"mountPath": "/etc/gateway/validation-certs", "name": "validation-certs"}
_POD_NAMESPACE_ENV: dict[str, Any] = {"name": "POD_NAMESPACE",
                                      "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
_PROMETHEUS = {"prometheus.io/path": "/metrics", "prometheus.io/scrape": "true"}
"""The pod-template annotations the chart writes with ``global.glooStats.enabled`` (true by default in both)."""


def _labels(profile: Profile, component: str, **more: str) -> dict[str, str]:
    # "gloo.labels" (_helpers.tpl@main) is `app: gloo` plus global.additionalLabels (none by default); v1.3.20
    # writes `app: gloo` by hand in each template.
    del profile
    return {"app": "gloo", "gloo": component, **more}


def gloo_deployment(profile: Profile, *, validation: bool = True) -> dict[str, Any]:
    """The ``gloo`` Deployment as ``1-gloo-deployment.yaml`` renders it with Helm's defaults.

    Both versions mount the ``labels-volume`` downwardAPI volume (the pod's labels at ``/etc/gloo``); main also
    mounts the ``validation-certs`` Secret volume (the webhook's certificate, ``/etc/gateway/validation-certs``)
    and sets ``VALIDATION_MUST_START`` when ``gateway.validation.enabled`` (v1.3.20: the ``gateway`` Deployment
    does, :func:`gateway_deployment`).

    Args:
        profile: The Gloo profile (image tag, ports).
        validation: ``gateway.validation.enabled`` (Helm's default: true).

    Returns:
        The manifest.
    """
    version = GLOO_VERSIONS[profile]
    # 1-gloo-deployment.yaml: grpc-xds 9977, grpc-validation 9988, wasm-cache 9979 in both; main adds rest-xds 9976
    # and grpc-proxydebug 9966 (http-monitoring 9091 only with stats.podMonitorEnabled, off by default).
    ports = [{"containerPort": XDS_PORT, "name": "grpc-xds", "protocol": "TCP"}]
    if profile == "current":
        ports.append({"containerPort": 9976, "name": "rest-xds", "protocol": "TCP"})
    ports.append({"containerPort": VALIDATION_PORT, "name": "grpc-validation", "protocol": "TCP"})
    if profile == "current":
        ports.append({"containerPort": 9966, "name": "grpc-proxydebug", "protocol": "TCP"})
    ports.append({"containerPort": 9979, "name": "wasm-cache", "protocol": "TCP"})
    annotations = {**_PROMETHEUS, "prometheus.io/port": "9091", MANAGED_BY: CONTROLPLANE_MANAGER}
    if profile == "current":
        annotations["gloo.solo.io/oss-image-tag"] = version
    # 1-gloo-deployment.yaml (both): volumes labels-volume (downwardAPI metadata.labels), then at main
    # validation-certs (secret gateway.validation.secretName, defaultMode 420) when gateway.validation.enabled;
    # the container mounts validation-certs first, then labels-volume read-only at /etc/gloo.
    volumes: list[dict[str, Any]] = [LABELS_VOLUME]
    mounts: list[dict[str, Any]] = [{"name": "labels-volume", "mountPath": "/etc/gloo", "readOnly": True}]
    env: list[dict[str, Any]] = [_POD_NAMESPACE_ENV, {"name": "START_STATS_SERVER", "value": "true"}]
    if profile == "current" and validation:
        volumes.append(_CERTS_VOLUME)
        mounts.insert(0, _CERTS_MOUNT)
        env.append({"name": "VALIDATION_MUST_START", "value": "true"})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "gloo", "namespace": NAMESPACE, "labels": _labels(profile, "gloo")},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"gloo": "gloo"}},
            "template": {
                "metadata": {"labels": {"gloo": "gloo"}, "annotations": annotations},
                "spec": {
                    "serviceAccountName": "gloo",
                    "containers": [{
                        "name": "gloo", "image": f"{REGISTRY}/gloo:{version}", "imagePullPolicy": "IfNotPresent",
                        "ports": ports,
                        "volumeMounts": mounts,
                        "env": env,
                        "readinessProbe": {"tcpSocket": {"port": XDS_PORT}, "initialDelaySeconds": 1,
                                           "periodSeconds": 2, "failureThreshold": 10},
                    }],
                    "volumes": volumes,
                },
            },
        },
    }


def gateway_deployment(profile: Profile, *, validation: bool = True) -> dict[str, Any] | None:
    """Gloo 1.3's ``gateway`` Deployment (the gateway translator and the validation webhook), or None in ``current``.

    ``5-gateway-deployment.yaml`` at v1.3.20 with Helm's defaults: image ``quay.io/solo-io/gateway:<version>``,
    ServiceAccount ``gateway``, and with ``gateway.validation.enabled`` the container port ``https`` 8443, the
    ``validation-certs`` volume and mount, ``VALIDATION_MUST_START`` and a tcpSocket readiness probe on 8443. Main
    merged the gateway into ``gloo`` (no such template). Like the ``gloo`` pod, its pod stands for the daemon
    (:data:`CONTROLPLANE_MANAGER`): the part that translates gateway resources and answers the webhook.

    Args:
        profile: The Gloo profile.
        validation: ``gateway.validation.enabled`` (Helm's default: true).

    Returns:
        The manifest, or None for ``current``.
    """
    if profile != "1.3":
        return None
    env: list[dict[str, Any]] = [_POD_NAMESPACE_ENV, {"name": "START_STATS_SERVER", "value": "true"}]
    container: dict[str, Any] = {"image": f"{REGISTRY}/gateway:{GLOO_VERSIONS[profile]}",
                                 "imagePullPolicy": "IfNotPresent", "name": "gateway"}
    spec: dict[str, Any] = {"serviceAccountName": "gateway", "containers": [container]}
    if validation:
        container["ports"] = [{"containerPort": WEBHOOK_PORT, "name": "https", "protocol": "TCP"}]
    container["env"] = env
    if validation:
        env.append({"name": "VALIDATION_MUST_START", "value": "true"})
        container["volumeMounts"] = [_CERTS_MOUNT]
        container["readinessProbe"] = {"tcpSocket": {"port": WEBHOOK_PORT}, "initialDelaySeconds": 1,
                                       "periodSeconds": 2, "failureThreshold": 10}
        spec["volumes"] = [_CERTS_VOLUME]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "gateway", "namespace": NAMESPACE, "labels": _labels(profile, "gateway")},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"gloo": "gateway"}},
            "template": {
                "metadata": {"labels": {"gloo": "gateway"},
                             "annotations": {**_PROMETHEUS, "prometheus.io/port": "9091",
                                             MANAGED_BY: CONTROLPLANE_MANAGER}},
                "spec": spec,
            },
        },
    }


def webhook_service(profile: Profile) -> dict[str, Any] | None:
    """Gloo 1.3's ``gateway`` Service (``5-gateway-service.yaml`` at v1.3.20, only with validation enabled).

    ``https`` 443 -> 8443 selecting ``gloo: gateway``, labelled ``discovery.solo.io/function_discovery: disabled``.
    In ``current`` the ``gloo`` Service carries the webhook's ``https`` port (``daemon.install_manifests``).

    Args:
        profile: The Gloo profile.

    Returns:
        The manifest, or None for ``current``.
    """
    if profile != "1.3":
        return None
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "gateway", "namespace": NAMESPACE,
                         "labels": {"discovery.solo.io/function_discovery": "disabled", "app": "gloo",
                                    "gloo": "gateway"}},
            "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": WEBHOOK_PORT}],
                     "selector": {"gloo": "gateway"}}}


def proxy_config_map(profile: Profile, proxy: str) -> dict[str, Any]:
    """The ``<proxy>-envoy-config`` ConfigMap: the bootstrap the replicas really use, in the chart's template form.

    ``9-gateway-proxy-configmap.yaml`` keeps ``{{.PodName}}.{{.PodNamespace}}`` and ``{{.PodNamespace}}~<proxy>``
    for envoyinit to fill in each pod; the rest is :func:`gloo_nb.sandbox.envoy.bootstrap_config` (cluster
    ``gateway``, the xDS cluster ``gloo.gloo-system.svc.cluster.local:9977``, admin on 127.0.0.1:19000), with the
    xDS cluster resolved by DNS as the chart writes it (each replica's own file has the loopback address instead).

    Args:
        profile: The Gloo profile (unused: both charts write the same node and xDS cluster).
        proxy: The proxy's name.

    Returns:
        The manifest.
    """
    del profile
    host = f"gloo.{NAMESPACE}.svc.cluster.local"
    boot = bootstrap_config("{{.PodName}}.{{.PodNamespace}}", "{{.PodNamespace}}~" + proxy, f"{host}:{XDS_PORT}",
                            19000, namespace=NAMESPACE)
    for cluster in boot["static_resources"]["clusters"]:
        # The chart: type STRICT_DNS, respect_dns_ttl (the address is the Service's name).
        cluster["type"] = "STRICT_DNS"
        cluster["respect_dns_ttl"] = True
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": f"{proxy}-envoy-config", "namespace": NAMESPACE,
                     "labels": {"app": "gloo", "gloo": "gateway-proxy", "gateway-proxy-id": proxy}},
        "data": {"envoy.yaml": yaml.safe_dump(boot, sort_keys=False)},
    }


def proxy_deployment(profile: Profile, proxy: str, replicas: int) -> dict[str, Any]:
    """A gateway proxy's Deployment as ``7-gateway-proxy-deployment.yaml`` renders one ``gatewayProxies`` entry.

    Args:
        profile: The Gloo profile (image tag, annotations).
        proxy: The proxy's name (``gateway-proxy``).
        replicas: The sandbox's replica count for it.

    Returns:
        The manifest.
    """
    version = GLOO_VERSIONS[profile]
    annotations = {**_PROMETHEUS, "prometheus.io/port": "8081", MANAGED_BY: ENVOY_MANAGER}
    ports = [{"containerPort": 8080, "name": "http", "protocol": "TCP"},
             {"containerPort": 8443, "name": "https", "protocol": "TCP"}]
    if profile == "current":
        # main: the sha256 of the proxy's rendered ConfigMap (9-gateway-proxy-configmap.yaml: a new rollout when it
        # changes; here of its data). http-monitoring 8081 only with podMonitorEnabled (off by default).
        data = proxy_config_map(profile, proxy)["data"]
        annotations[f"checksum/{proxy}-envoy-config"] = hashlib.sha256(
            json.dumps(data, sort_keys=True).encode()).hexdigest()
    # The admin port: not in the chart (Envoy's admin binds 127.0.0.1 in the pod); the sandbox lists it so that
    # port-forwards to 19000 find it, as gloo_nb's pods always did.
    ports.append({"containerPort": 19000, "name": "admin", "protocol": "TCP"})
    container = {
        "name": proxy, "image": f"{REGISTRY}/gloo-envoy-wrapper:{version}", "imagePullPolicy": "IfNotPresent",
        "args": ["--disable-hot-restart"],
        "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": ports,
        "volumeMounts": [{"mountPath": "/etc/envoy", "name": "envoy-config"}],
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": proxy, "namespace": NAMESPACE,
                     "labels": _labels(profile, "gateway-proxy", **{"gateway-proxy-id": proxy})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"gloo": "gateway-proxy", "gateway-proxy-id": proxy}},
            "template": {
                "metadata": {"labels": {"gloo": "gateway-proxy", "gateway-proxy-id": proxy, "gateway-proxy": "live"},
                             "annotations": annotations},
                "spec": {
                    "serviceAccountName": "gateway-proxy",
                    "containers": [container],
                    "volumes": [{"name": "envoy-config", "configMap": {"name": f"{proxy}-envoy-config"}}],
                },
            },
        },
    }


def service_accounts(profile: Profile, *, validation: bool) -> list[dict[str, Any]]:
    """The ServiceAccounts of these components: ``gloo``, ``gateway-proxy`` (one for every proxy), ``certgen``.

    ``2-gloo-service-account.yaml`` and ``8-gateway-proxy-service-account.yaml`` in both versions; v1.3.20's
    ``5-gateway-service-account.yaml`` makes ``gateway`` (its certgen Job runs as it too); main's
    ``6.5-gateway-certgen-job-service-account.yaml`` makes ``certgen`` when validation is on.

    Args:
        profile: The Gloo profile.
        validation: Whether validation is on (``certgen``).

    Returns:
        The manifests.
    """
    def sa(name: str, labels: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels}}
    out = [sa("gloo", _labels(profile, "gloo")), sa("gateway-proxy", _labels(profile, "gateway-proxy"))]
    if profile == "1.3":
        # 5-gateway-service-account.yaml@v1.3.20 (with gateway.enabled, the default), for the gateway Deployment.
        out.insert(1, sa("gateway", _labels(profile, "gateway")))
    if validation and profile == "current":
        certgen = sa("certgen", {"app": "gloo", "gloo": "rbac", "gloo.solo.io/component": "certgen"})
        certgen["metadata"]["annotations"] = {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "5"}
        out.append(certgen)
    return out


def _webhook_certs(service: str) -> tuple[bytes, bytes, bytes]:
    # jobs/pkg/certgen/gen_certs.go GenCerts (both versions): a self-signed CA and a server certificate for
    # "<svc>.<ns>.svc" with the DNS names svc, svc.ns, svc.ns.svc, svc.ns.svc.cluster.local.
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gloo-validation-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cn = f"{service}.{NAMESPACE}.svc"
    names = [service, f"{service}.{NAMESPACE}", cn, f"{cn}.cluster.local"]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]
                                                       + [x509.IPAddress(ipaddress.ip_address(HOST_IP))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def _b64(data: bytes) -> str:
    import base64
    return base64.b64encode(data).decode()


def validation_objects(profile: Profile) -> list[tuple[kinds.Kind, dict[str, Any]]]:
    """The ``gateway-validation-certs`` Secret and the ValidatingWebhookConfiguration, as certgen leaves them.

    ``5-gateway-validation-webhook-configuration.yaml`` with Helm's defaults (``failurePolicy: Ignore``; main's
    ``kubeCoreFailurePolicy: Ignore``), the ``caBundle`` filled in as the certgen Job patches it
    (``jobs/pkg/kube/webhook.go``), and the Secret it writes (``jobs/pkg/kube/secret.go``: type
    ``kubernetes.io/tls``, keys ``tls.crt``, ``tls.key``, ``ca.crt``). v1.3.20's chart used
    ``admissionregistration.k8s.io/v1beta1``, which Kubernetes 1.22 and later no longer serve: the sandbox stores
    the same configuration as ``v1``, with v1's required ``sideEffects`` and ``admissionReviewVersions`` set as the
    v1beta1 defaults were (``Unknown``, ``[v1beta1]``). The certgen Job itself is not shown (Helm deletes it once
    it succeeds: ``hook-delete-policy``).

    Args:
        profile: The Gloo profile (webhook name and Service, rules).

    Returns:
        ``(kind, manifest)`` pairs: main's ``certgen`` ServiceAccount (:func:`service_accounts`), v1.3.20's
        ``gateway`` Service (:func:`webhook_service`), the Secret, the configuration.
    """
    service = "gateway" if profile == "1.3" else "gloo"
    ca, cert, key = _webhook_certs(service)
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": VALIDATION_SECRET, "namespace": NAMESPACE},
              "data": {"tls.crt": _b64(cert), "tls.key": _b64(key), "ca.crt": _b64(ca)}}
    client = {"service": {"name": service, "namespace": NAMESPACE, "path": "/validation"}, "caBundle": _b64(ca)}
    if profile == "1.3":
        webhooks = [{
            "name": f"gateway.{NAMESPACE}.svc", "clientConfig": client,
            "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": ["gateway.solo.io"],
                       "apiVersions": ["v1"], "resources": ["*"]}],
            "failurePolicy": "Ignore", "sideEffects": "Unknown", "admissionReviewVersions": ["v1beta1"],
        }]
        labels = {"app": "gloo", "gloo": "gateway"}
        annotations = {"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "5"}
    else:
        crud = ["CREATE", "UPDATE", "DELETE"]
        webhooks = [{
            "name": f"gloo.{NAMESPACE}.svc", "clientConfig": client,
            "rules": [
                {"operations": crud, "apiGroups": ["gateway.solo.io"], "apiVersions": ["v1"],
                 "resources": ["virtualservices"]},
                {"operations": crud, "apiGroups": ["gateway.solo.io"], "apiVersions": ["v1"],
                 "resources": ["routetables"]},
                {"operations": ["CREATE", "UPDATE"], "apiGroups": ["gateway.solo.io"], "apiVersions": ["v1"],
                 "resources": ["gateways"]},
                {"operations": crud, "apiGroups": ["gloo.solo.io"], "apiVersions": ["v1"],
                 "resources": ["upstreams"]},
                {"operations": crud, "apiGroups": ["ratelimit.solo.io"], "apiVersions": ["v1alpha1"],
                 "resources": ["ratelimitconfigs"]},
            ],
            "sideEffects": "None", "matchPolicy": "Exact", "admissionReviewVersions": ["v1beta1"],
            "failurePolicy": "Ignore",
        }, {
            "name": f"kube.{NAMESPACE}.svc", "clientConfig": json.loads(json.dumps(client)),
            "rules": [{"operations": ["DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["secrets"]},
                      {"operations": ["UPDATE", "DELETE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["namespaces"]}],
            "sideEffects": "None", "matchPolicy": "Exact", "admissionReviewVersions": ["v1beta1"],
            "failurePolicy": "Ignore",
        }]
        labels = {"app": "gloo", "gloo": "gateway"}
        annotations = {"helm.sh/hook": "pre-install, pre-upgrade", "helm.sh/hook-weight": "5"}
    config = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
              "metadata": {"name": WEBHOOK_CONFIGURATION, "labels": labels, "annotations": annotations},
              "webhooks": webhooks}
    out: list[tuple[kinds.Kind, dict[str, Any]]] = [
        (kinds.SERVICE_ACCOUNT, sa) for sa in service_accounts(profile, validation=True)
        if sa["metadata"]["name"] == "certgen"]
    svc = webhook_service(profile)
    if svc is not None:
        out.append((kinds.SERVICE, svc))
    return [*out, (kinds.SECRET, secret), (kinds.VALIDATING_WEBHOOK_CONFIGURATION, config)]


def validation_enabled(store: Store, profile: Profile) -> bool:
    """Whether the Settings Gloo reads enable its validation webhook (Helm's values then render the configuration).

    Args:
        store: The store.
        profile: The Gloo profile.

    Returns:
        ``WebhookSettings.of(...).enabled`` of Settings ``gloo-system/default``; Helm's defaults (on) without them.
    """
    try:
        parsed = parse_object(store.get(kinds.SETTINGS, NAMESPACE, "default")).resource
    except (ApiError, GlooNbError):
        parsed = None
    return WebhookSettings.of(parsed if isinstance(parsed, Settings) else None, profile).enabled


def install_workloads(profile: Profile, proxies: Sequence[tuple[str, int]], *,
                      validation: bool = True) -> list[tuple[kinds.Kind, dict[str, Any]]]:
    """The ServiceAccounts, ConfigMaps and Deployments of a fresh install (the pods are the daemon's to publish).

    Args:
        profile: The Gloo profile.
        proxies: ``(name, replicas)`` of every gateway proxy.
        validation: ``gateway.validation.enabled`` (the webhook's volume and port in the Deployments).

    Returns:
        ``(kind, manifest)`` pairs in creation order (ServiceAccounts before anything that names them).
    """
    out: list[tuple[kinds.Kind, dict[str, Any]]] = [
        (kinds.SERVICE_ACCOUNT, sa) for sa in service_accounts(profile, validation=False)]
    out += [(kinds.CONFIGMAP, proxy_config_map(profile, name)) for name, _ in proxies]
    out.append((kinds.DEPLOYMENT, gloo_deployment(profile, validation=validation)))
    gateway = gateway_deployment(profile, validation=validation)
    if gateway is not None:
        out.append((kinds.DEPLOYMENT, gateway))
    out += [(kinds.DEPLOYMENT, proxy_deployment(profile, name, count)) for name, count in proxies]
    return out


def stored_template_hash(store: Store, name: str) -> tuple[str, dict[str, Any]] | None:
    """The ``pod-template-hash`` of a stored Deployment's current template, and the template.

    The Deployment controller names the ReplicaSet of the template ``<deployment>-<hash>``
    (``deployment_controller.template_hash`` of the stored, defaulted template and ``status.collisionCount``);
    the daemon's pods carry the same label so that this ReplicaSet adopts them.

    Args:
        store: The store.
        name: The Deployment in ``gloo-system``.

    Returns:
        ``(hash, template)``, or None when the Deployment is gone.
    """
    try:
        dep = store.get(kinds.DEPLOYMENT, NAMESPACE, name)
    except ApiError:
        return None
    template = (dep.get("spec") or {}).get("template") or {}
    collisions = int((dep.get("status") or {}).get("collisionCount") or 0)
    return template_hash(template, collisions), template


def gloo_pod_name(pod_hash: str, cluster_id: str) -> str:
    """The gloo pod's name, ``gloo-<hash>-<5 chars>``: stable for a sandbox's life (derived from its cluster id).

    Args:
        pod_hash: The template hash.
        cluster_id: The sandbox's cluster id.

    Returns:
        The name.
    """
    digest = hashlib.sha256(cluster_id.encode()).digest()
    return f"gloo-{pod_hash}-" + "".join(SAFE_CHARS[b % len(SAFE_CHARS)] for b in digest[:5])


def gateway_pod_name(pod_hash: str, cluster_id: str) -> str:
    """Gloo 1.3's gateway pod's name, ``gateway-<hash>-<5 chars>``: stable for a sandbox's life.

    Args:
        pod_hash: The ``gateway`` Deployment's template hash.
        cluster_id: The sandbox's cluster id.

    Returns:
        The name.
    """
    digest = hashlib.sha256(f"{cluster_id}/gateway".encode()).digest()
    return f"gateway-{pod_hash}-" + "".join(SAFE_CHARS[b % len(SAFE_CHARS)] for b in digest[:5])


def gloo_pod(profile: Profile, name: str, pod_hash: str, template: dict[str, Any], ports: dict[int, int], *,
             ready: bool) -> dict[str, Any]:
    """The gloo pod standing for the daemon's control plane (1.3's ``gateway`` pod too, from its own template).

    Args:
        profile: The Gloo profile.
        name: :func:`gloo_pod_name`.
        pod_hash: The template hash (its label).
        template: The Deployment's pod template (labels, annotations, containers).
        ports: Container port -> the daemon's real loopback port (9977 -> the xDS server, 8443 -> the webhook).
        ready: Whether the control plane serves.

    Returns:
        The Pod manifest, with status.
    """
    del profile
    tmeta = template.get("metadata") or {}
    spec = json.loads(json.dumps(template.get("spec") or {}))
    spec["nodeName"] = NODE_NAME
    now = rfc3339_now()
    cond = "True" if ready else "False"
    containers = spec.get("containers") or []
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE,
                     "labels": {**(tmeta.get("labels") or {}), TEMPLATE_HASH_LABEL: pod_hash},
                     "annotations": {**(tmeta.get("annotations") or {}), MANAGED_BY: CONTROLPLANE_MANAGER,
                                     PORTS_ANNOTATION: json.dumps({str(k): v for k, v in ports.items()})}},
        "spec": spec,
        "status": {
            "phase": "Running", "hostIP": HOST_IP, "podIP": HOST_IP, "podIPs": [{"ip": HOST_IP}], "startTime": now,
            "conditions": [{"type": t, "status": "True" if t in ("PodScheduled", "Initialized") else cond,
                            "lastTransitionTime": now}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "",
                                   "ready": ready, "restartCount": 0, "started": True,
                                   "state": {"running": {"startedAt": now}}} for c in containers],
        },
    }


def create_missing(store: Store, objects: Sequence[tuple[kinds.Kind, dict[str, Any]]]) -> None:
    """Create each object the store does not hold yet (a restarted sandbox keeps what it has).

    Args:
        store: The store.
        objects: ``(kind, manifest)`` pairs.
    """
    for kind, manifest in objects:
        meta = manifest["metadata"]
        try:
            store.get(kind, meta.get("namespace") if kind.namespaced else None, meta["name"])
        except ApiError:
            store.create(kind, manifest, identity=ADMIN)
