"""Gloo's validating admission webhook, as a pure decision: would Gloo admit this change?

Given the resources Gloo holds (a :class:`~gloo_nb.models.Snapshot`), one change (create, update or delete
of one Gloo resource), the Settings and the profile, :func:`decide` answers as Gloo's webhook does, with
Gloo's denial text; :func:`decide_all` puts a batch of resources to it in order, as ``kubectl apply -f`` does.
The sandbox's API runs it on every write of a Gloo resource
(:mod:`gloo_nb.sandbox.gloo_webhook`), ``gloo-nb check --webhook`` asks it for files or a cluster's objects,
and the rollout's guards can ask it before applying (a later task builds on :func:`decide` and
:class:`Decision`; nothing here does I/O).

Sources, per profile:

* ``current``: ``projects/gateway/pkg/services/k8sadmission/validating_admission_webhook.go``
  (``makeAdmissionResponse``, ``validateAdmissionRequest``, ``validateGvk``, ``deleteRef``,
  ``shouldValidateResource``) and ``projects/gateway/pkg/validation/validator.go`` (``validateSnapshot``,
  ``validateProxiesAndExtensions``, ``translateGlooEdgeProxies``, ``appendProxyErrors``,
  ``getErrorsFromGlooValidation``, ``copySnapshotNonThreadSafe``); the Helm chart's
  ``5-gateway-validation-webhook-configuration.yaml`` (which kinds and operations reach the webhook).
* ``1.3``: the same files at v1.3.20 (``projects/gateway/pkg/services/k8sadmisssion/``, three s), whose
  validator checks only the proxies that hold the changed resource, counts only errors
  (``setup_syncer.go``: ``AllowMissingLinks = true``, so ``reports.Validate``; no ``allowWarnings``
  setting exists) and admits every deletion (``ValidateDeleteVirtualService``/``ValidateDeleteRouteTable``
  only log a broken link when ``allowBrokenLinks``).

Both: a translation is made of the snapshot with the change applied, with no memory of earlier
translations (the webhook builds the desired Proxy; it does not reconcile with the last one written).
``alwaysAccept`` admits everything but unmarshal errors; when the stored snapshot itself already fails
validation Gloo admits every write (``InvalidSnapshotErrMessage``); an update that changes nothing Gloo
hashes (a status write) is admitted without validation; the ``gateway.solo.io/skip_validation: "true"``
annotation skips it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from gloo_nb._types import Profile
from gloo_nb.models import Finding, Resource, ResourceKey, Settings, Snapshot, ValidationSettings
from gloo_nb.models.defaults import validation_block
from gloo_nb.translate.reports import ResourceReport, multierror_text
from gloo_nb.translate.translator import (
    DEFAULT_PROXY,
    GLOO_NAMESPACE,
    Translation,
    Translator,
    helm_default_gateways,
    helm_default_settings,
    proxy_names,
    proxy_virtual_services,
)
from gloo_nb.translate.watch import namespaces_to_watch

Operation = Literal["CREATE", "UPDATE", "DELETE"]

SKIP_VALIDATION_KEY = "gateway.solo.io/skip_validation"
"""The annotation that skips validation when ``"true"`` (``k8sadmission.SkipValidationKey``, both profiles)."""

INVALID_SNAPSHOT_MESSAGE = ("validation is disabled due to an invalid resource which has been written to storage. "
                            "Please correct any Rejected resources to re-enable validation.")
"""Gloo's log line when the stored snapshot already fails validation (``validator.go:InvalidSnapshotErrMessage``)."""

# Which kinds and operations reach Gloo's webhook, per profile.
# 1.3: templates/5-gateway-validation-webhook-configuration.yaml@v1.3.20 sends CREATE/UPDATE/DELETE of every
# gateway.solo.io resource; validating_admission_webhook.go:validate handles Gateway (not its deletion),
# VirtualService and RouteTable and admits anything else.
# current: the chart's rules: VirtualServices, RouteTables and Upstreams (CREATE, UPDATE, DELETE), Gateways
# (CREATE, UPDATE); RouteOptions/VirtualHostOptions reach it but are validated only with the Kubernetes
# Gateway API enabled (shouldValidateGvk), which gloo_nb does not model, so they are admitted.
VALIDATED: dict[str, dict[str, frozenset[str]]] = {
    "1.3": {"VirtualService": frozenset({"CREATE", "UPDATE", "DELETE"}),
            "RouteTable": frozenset({"CREATE", "UPDATE", "DELETE"}),
            "Gateway": frozenset({"CREATE", "UPDATE"})},
    "current": {"VirtualService": frozenset({"CREATE", "UPDATE", "DELETE"}),
                "RouteTable": frozenset({"CREATE", "UPDATE", "DELETE"}),
                "Gateway": frozenset({"CREATE", "UPDATE"}),
                "Upstream": frozenset({"CREATE", "UPDATE", "DELETE"})},
}
"""Per profile, the kinds Gloo's webhook validates and for which operations."""

_GO_TYPE = {"VirtualService": "*v1.VirtualService", "RouteTable": "*v1.RouteTable", "Gateway": "*v1.Gateway",
            "Upstream": "*v1.Upstream"}

_GATEWAY_KINDS = frozenset({"VirtualService", "RouteTable", "Gateway", "MatchableHttpGateway", "MatchableTcpGateway",
                            "VirtualHostOption", "RouteOption"})
# The gateway translator reports on these; Gloo's proxy translator's messages are merged into them with
# proxy_validation.go's "<Level> Error: " / "<Level> Warning: " prefixes (add_proxy_validation_result.go).
_PROXY_MESSAGE = re.compile(r"^(Route|VirtualHost|Listener|HttpListener|HTTPListener|TcpListener|TcpHost|"
                            r"HybridListener|AggregateListener) (Error|Warning): ")

_FIELDS = {"VirtualService": "virtual_services", "RouteTable": "route_tables", "Gateway": "gateways",
           "Upstream": "upstreams", "UpstreamGroup": "upstream_groups", "VirtualHostOption": "virtual_host_options",
           "RouteOption": "route_options", "MatchableHttpGateway": "matchable_http_gateways",
           "MatchableTcpGateway": "matchable_tcp_gateways", "Service": "services", "Secret": "secrets",
           "Endpoints": "endpoints", "Pod": "pods"}


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """What Gloo's webhook reads from ``Settings.spec.gateway.validation``.

    Attributes:
        enabled: The block is present: Gloo runs the webhook (``setup_syncer.go``: no validation config, no
            webhook; the Helm chart writes it when ``gateway.validation.enabled``, its default).
        always_accept: ``alwaysAccept`` (code and Helm default true): admit and only log.
        allow_warnings: ``allowWarnings`` (code and Helm default true): only errors count. Always true in ``1.3``,
            which had no such setting (``AllowMissingLinks = true``).
    """

    enabled: bool
    always_accept: bool = True
    allow_warnings: bool = True

    @classmethod
    def of(cls, settings: Settings | None, profile: Profile) -> WebhookSettings:
        """Read the webhook's settings as Gloo does.

        Args:
            settings: The Settings in force (None: Helm's defaults, which enable the webhook, always accepting).
            profile: ``1.3`` or ``current``.

        Returns:
            The webhook's settings.
        """
        v = (settings or helm_default_settings_with_validation()).validation
        if v is None:
            return cls(enabled=False)
        # setup_syncer.go (both): AcceptAllResourcesByDefault = true unless alwaysAccept is set;
        # AllowWarnings = true unless allowWarnings is set (current only).
        always = True if v.always_accept is None else v.always_accept
        allow = True if profile == "1.3" or v.allow_warnings is None else v.allow_warnings
        return cls(enabled=True, always_accept=always, allow_warnings=allow)


def with_validation_mode(settings: Settings | None, mode: str, profile: Profile) -> Settings:
    """Settings whose ``spec.gateway.validation`` is set as ``--validation MODE`` sets it.

    Args:
        settings: The Settings to change (None: Helm's defaults).
        mode: ``accept``, ``errors``, ``strict`` or ``off`` (:func:`gloo_nb.models.defaults.validation_block`).
        profile: ``1.3`` or ``current`` (1.3 has no ``allowWarnings``).

    Returns:
        The Settings.

    Raises:
        ValueError: An unknown mode.
    """
    block = validation_block(mode, profile=profile)
    base = settings or helm_default_settings()
    if block is None:
        return replace(base, validation=None)
    old = base.validation or ValidationSettings()
    return replace(base, validation=replace(old, always_accept=block["alwaysAccept"],
                                            allow_warnings=block.get("allowWarnings")))


def helm_default_settings_with_validation() -> Settings:
    """Helm's default Settings, with the validation block the chart writes (``alwaysAccept: true``).

    Returns:
        The Settings model.
    """
    return replace(helm_default_settings(), validation=ValidationSettings(always_accept=True))


@dataclass(frozen=True, slots=True)
class Change:
    """One write Gloo's webhook is asked about.

    Attributes:
        operation: ``CREATE``, ``UPDATE`` or ``DELETE``.
        key: The resource written.
        resource: The new object (None for a deletion, or when it cannot be read: see ``unmarshal_error``).
        old: The object before an update (None otherwise or when unknown).
        unmarshal_error: Why the object cannot be read as Gloo reads it (Gloo always refuses such writes).
    """

    operation: Operation
    key: ResourceKey
    resource: Resource | None = None
    old: Resource | None = None
    unmarshal_error: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """Gloo's webhook's answer to one change.

    Attributes:
        allowed: Whether Gloo admits the write.
        validated: Whether Gloo validated it at all (False: not a kind or operation it validates, the webhook
            is off, the skip annotation, an update of nothing Gloo hashes, or the stored snapshot already invalid).
        message: Gloo's denial text (the ``Status`` message its AdmissionResponse carries, without Kubernetes'
            ``admission webhook "..." denied the request: `` prefix; see :meth:`denial`); for an admitted change
            that validation would have refused (``alwaysAccept``), what Gloo logs.
        errors: What counted against the change, one Gloo message each (warnings too when they count).
        reason: Why it was admitted or refused, in words.
        findings: Every finding of the dry-run translation on the changed snapshot (gloo_nb's attribution),
            for callers that show more than Gloo's text.
        webhook: The webhook's name, ``gloo.<namespace>.svc`` (current) or ``gateway.<namespace>.svc`` (1.3).
        causes: The ``details.causes`` messages of Gloo's denial Status (current: ``getFailureCauses``, ``Error
            <error>`` per error; 1.3: one per listener, virtual host and route error of the proxy reports).
    """

    allowed: bool
    validated: bool
    message: str = ""
    errors: tuple[str, ...] = ()
    reason: str = ""
    findings: tuple[Finding, ...] = field(default=(), compare=False)
    webhook: str = ""
    causes: tuple[str, ...] = ()

    def denial(self) -> str:
        """The message Kubernetes returns for a denial (apiserver ``webhook/errors/statuserror.go:ToStatusErr``).

        Returns:
            ``admission webhook "<name>" denied the request: <message>``, or ``""`` when admitted.
        """
        if self.allowed:
            return ""
        return f'admission webhook "{self.webhook}" denied the request: {self.message}'

    def as_json(self) -> dict[str, object]:
        """The decision as ``gloo-nb check --webhook --json`` prints it.

        Returns:
            ``allowed``, ``validated``, ``reason``, ``errors``, ``message`` and ``denial``.
        """
        return {"allowed": self.allowed, "validated": self.validated, "reason": self.reason,
                "errors": list(self.errors), "message": self.message, "denial": self.denial()}


def webhook_name(profile: Profile, namespace: str = GLOO_NAMESPACE) -> str:
    """The name of Gloo's validating webhook, which Kubernetes prints in a denial.

    Args:
        profile: ``1.3`` (``templates/5-gateway-validation-webhook-configuration.yaml@v1.3.20``: ``gateway.<ns>.svc``)
            or ``current`` (the same template now: ``gloo.<ns>.svc``).
        namespace: Gloo's install namespace.

    Returns:
        The name.
    """
    return f"{'gateway' if profile == '1.3' else 'gloo'}.{namespace}.svc"


def supports_dry_run(profile: Profile) -> bool:
    """Whether Kubernetes sends dry-run requests (``kubectl apply --dry-run=server``) to Gloo's webhook.

    Kubernetes calls a webhook on a dry run only when its ``sideEffects`` is ``None`` or ``NoneOnDryRun``, and
    otherwise fails the request (``k8s.io/apiserver/pkg/admission/plugin/webhook/validating/dispatcher.go``
    ``callHook``: ``NewDryRunUnsupportedErr``). Current charts declare ``sideEffects: None``; the v1.3.20 chart's
    ``admissionregistration.k8s.io/v1beta1`` configuration declares none, which v1beta1 defaults to ``Unknown``.

    Args:
        profile: ``1.3`` or ``current``.

    Returns:
        False for ``1.3``: a server dry run of a gateway.solo.io resource fails (:func:`dry_run_refusal`).
    """
    return profile != "1.3"


def dry_run_refusal(profile: Profile, namespace: str = GLOO_NAMESPACE) -> str:
    """Kubernetes' message when a dry run meets a webhook that does not support it.

    ``k8s.io/apiserver/pkg/admission/plugin/webhook/errors/statuserror.go:NewDryRunUnsupportedErr``: a 400
    ``BadRequest`` whatever the webhook's ``failurePolicy``.

    Args:
        profile: The profile (names the webhook).
        namespace: Gloo's install namespace.

    Returns:
        ``admission webhook "<name>" does not support dry run``.
    """
    return f'admission webhook "{webhook_name(profile, namespace)}" does not support dry run'


def with_change(snapshot: Snapshot, key: ResourceKey, resource: Resource | None) -> Snapshot:
    """The snapshot with one resource put in (created or replaced) or taken out (``resource`` None).

    Args:
        snapshot: The resources.
        key: The resource's identity.
        resource: The new resource, or None to delete it.

    Returns:
        A new snapshot; lists stay sorted by namespace and name, as solo-kit sorts them
        (``UpsertToResourceList`` and ``HandleResourceDeletion`` in current, ``snap.VirtualServices.Sort()`` in 1.3).
    """
    name = _FIELDS.get(key.kind)
    if name is None:
        return snapshot
    items = [r for r in getattr(snapshot, name) if r.key != key]
    if resource is not None:
        items.append(resource)
    items.sort(key=lambda r: (r.meta.namespace, r.meta.name))
    return replace(snapshot, **{name: tuple(items)})  # type: ignore[arg-type]


def decide(snapshot: Snapshot, change: Change, profile: Profile, settings: Settings | None = None, *,
           namespace: str = GLOO_NAMESPACE, stored_invalid: bool | None = None) -> Decision:
    """Answer as Gloo's validating webhook does: admit the change, or deny it with Gloo's message.

    Args:
        snapshot: What Gloo holds before the change (its validator's latest snapshot).
        change: The write.
        profile: ``1.3`` or ``current``.
        settings: The Settings in force; None: the snapshot's, else Helm's defaults (webhook on, always accepting).
        namespace: Gloo's install namespace (names the webhook).
        stored_invalid: Whether ``snapshot`` itself already fails validation (:func:`stored_snapshot_invalid`), when
            the caller knows it (a server answering many writes against one snapshot); None: computed here.

    Returns:
        The decision.
    """
    settings = settings or snapshot.settings or helm_default_settings_with_validation()
    config = WebhookSettings.of(settings, profile)
    name = webhook_name(profile, namespace)
    ops = VALIDATED[profile].get(change.key.kind, frozenset())
    if not config.enabled:
        return Decision(True, False, reason="validation is off (Settings have no spec.gateway.validation)",
                        webhook=name)
    if change.operation not in ops:
        return Decision(True, False, reason=f"Gloo's webhook does not validate {change.operation} of "
                                            f"{change.key.kind} in profile {profile}", webhook=name)
    if not _watched(settings, snapshot, change.key, profile, namespace):
        # makeAdmissionResponse: "if it's not our namespace, do not validate".
        return Decision(True, False, reason=f"namespace {change.key.namespace} is not one Gloo watches "
                                            "(settings.watchNamespaces, watchNamespaceSelectors)", webhook=name)
    go_type = _GO_TYPE[change.key.kind]
    if change.unmarshal_error:
        # "even if validation is set to always accept, we want to fail on unmarshal errors" (makeAdmissionResponse)
        message, causes = _unmarshal_message(change, go_type, profile)
        return Decision(False, True, message, (change.unmarshal_error,),
                        reason="Gloo cannot read the object (refused even with alwaysAccept)", webhook=name,
                        causes=causes)
    res = change.resource
    if res is not None and res.meta.annotations.get(SKIP_VALIDATION_KEY) == "true":
        return Decision(True, False, reason=f"annotation {SKIP_VALIDATION_KEY}: \"true\" skips validation",
                        webhook=name)
    if change.operation == "UPDATE" and res is not None and change.old is not None and _same_hash(res, change.old):
        # shouldValidateResource (current) / the MustHash check of the apply funcs (1.3): a status-only update.
        return Decision(True, False, reason="nothing Gloo hashes changed (a status-only update)", webhook=name)
    if change.operation == "DELETE" and profile == "1.3":
        # ValidateDeleteVirtualService / ValidateDeleteRouteTable@v1.3.20: allowBrokenLinks (AllowMissingLinks =
        # true) only logs "Allowed deletion of ... with warning".
        return Decision(True, True, reason="Gloo 1.3 admits deletions (broken links are only logged)", webhook=name)
    if stored_invalid is None:
        stored_invalid = stored_snapshot_invalid(snapshot, profile, settings)
    if stored_invalid:
        # copySnapshotNonThreadSafe (current) / validateSnapshot (1.3): "allow writes if storage is already broken".
        return Decision(True, False, INVALID_SNAPSHOT_MESSAGE, reason=INVALID_SNAPSHOT_MESSAGE, webhook=name)

    changed = with_change(snapshot, change.key, None if change.operation == "DELETE" else res)
    translation = Translator(profile).translate(changed)
    if profile == "1.3":
        message, errors, causes = _validate_13(translation, change)
    else:
        message, errors, causes = _validate_current(translation, change, config)
    findings = tuple(translation.findings)
    if not errors:
        return Decision(True, True, reason="the change passes Gloo's validation", findings=findings, webhook=name)
    if config.always_accept:
        # makeAdmissionResponse (validating_admission_webhook.go): with alwaysAccept and no unmarshal error the
        # request is "Succeeded": logged at debug with the errors, counted in resources_accepted; the validator
        # sets the gauge validation.gateway.solo.io/valid_config to 0 (validator.go validateSnapshot). The spec's
        # 4.4 names resources_rejected; Gloo's source counts it only for denials.
        return Decision(True, True, message, tuple(errors),
                        reason="alwaysAccept: Gloo admits it and only logs the failure (debug; metric "
                               "validation.gateway.solo.io/resources_accepted counts it, the gauge "
                               "validation.gateway.solo.io/valid_config drops to 0)", findings=findings, webhook=name)
    return Decision(False, True, message, tuple(errors), reason="the change fails Gloo's validation",
                    findings=findings, webhook=name, causes=causes)


def _watched(settings: Settings, snapshot: Snapshot, key: ResourceKey, profile: Profile, namespace: str) -> bool:
    # makeAdmissionResponse (both profiles): validate only requests in a namespace Gloo watches. The webhook is given
    # setup_syncer.go's watchNamespaces: ProcessWatchNamespaces(settingsutil.GetNamespacesToWatch(settings), ...),
    # so in current the namespaces watchNamespaceSelectors select (gloo_nb.translate.watch, the one rule) and in 1.3
    # watchNamespaces plus the write namespace. current also validates Gateways only in the webhook's own namespace
    # unless readGatewaysFromAllNamespaces or every namespace is watched.
    scope = namespaces_to_watch(settings, snapshot.namespaces, profile, used=[key.namespace])
    if scope.namespaces is None:
        return True
    if profile != "1.3" and key.kind == "Gateway" and not settings.read_gateways_from_all_namespaces:
        return key.namespace == namespace
    return scope.watches(key.namespace)


def _same_hash(new: Resource, old: Resource) -> bool:
    # Gloo hashes the spec and the metadata but not the resourceVersion, generation or uid (hashutils skips them
    # with the status); gloo_nb's models hold no status.
    def strip(r: Resource) -> Resource:
        return replace(r, meta=replace(r.meta, resource_version="", generation=0, uid=""))
    return strip(new) == strip(old)


def _unmarshal_message(change: Change, go_type: str, profile: Profile) -> tuple[str, tuple[str, ...]]:
    if profile == "1.3":
        # WrappedUnmarshalErr@v1.3.20: errors.Wrapf(err, "could not unmarshal raw object"); no proxy reports, so the
        # message is the error itself.
        return f"could not unmarshal raw object: {change.unmarshal_error}", ()
    # validation.UnmarshalResource: "parsing resource from crd spec %v in namespace %v into %T", wrapped by
    # WrappedUnmarshalErr, in a one-error multierror, printed with %v of the error list.
    inner = (f"could not unmarshal raw object: parsing resource from crd spec {change.key.name} in namespace "
             f"{change.key.namespace} into {go_type}: {change.unmarshal_error}")
    item = multierror_text([inner])
    return f"resource incompatible with current Gloo snapshot: [{item}]", (f"Error {item}",)


def _go_ref(key: ResourceKey, profile: Profile) -> str:
    # %v of core.ResourceRef: a gogo struct value at v1.3.20 ({name namespace}); a *core.ResourceRef proto message
    # now, printed in text format (the doubled space is what Gloo's docs show: admission_control.md).
    if profile == "1.3":
        return f"{{{key.name} {key.namespace}}}"
    return f'name:"{key.name}"  namespace:"{key.namespace}"'


def _eris_multi(errors: Sequence[str]) -> str:
    # A go-multierror wrapped by eris prints its only error alone, several as go-multierror's list
    # (Gloo's admission_control.md shows both shapes).
    return errors[0] if len(errors) == 1 else multierror_text(list(errors))


def _split(rep: ResourceReport) -> tuple[list[str], list[str], list[str], list[str]]:
    gw_err = [e for e in rep.errors if not _PROXY_MESSAGE.match(e)]
    gw_warn = [w for w in rep.warnings if not _PROXY_MESSAGE.match(w)]
    px_err = [e for e in rep.errors if _PROXY_MESSAGE.match(e)]
    px_warn = [w for w in rep.warnings if _PROXY_MESSAGE.match(w)]
    return gw_err, gw_warn, px_err, px_warn


def _solo_kit_validate(reports: Iterable[tuple[ResourceKey, list[str], list[str]]], strict: bool) -> list[str]:
    # solo-kit reporter.go ResourceReports.Validate / ValidateStrict: "invalid resource <ns>.<name>" (the first
    # failing resource) then every resource's errors (sorted by resource, then by text), then with strict each
    # resource's warnings as "WARN: \n  [w1 w2]" (%v of a []string).
    ordered = sorted(reports, key=lambda r: (r[0].namespace, r[0].name, r[0].kind))
    out: list[str] = []
    for key, errors, _ in ordered:
        if errors:
            if not out:
                out.append(f"invalid resource {key.dotted}")
            out.extend(sorted(errors))
    if strict:
        for key, _, warnings in ordered:
            if warnings:
                if not out:
                    out.append(f"invalid resource {key.dotted}")
                out.append(f"WARN: \n  [{' '.join(warnings)}]")
    return out


def _gateway_reports(t: Translation) -> list[tuple[ResourceKey, list[str], list[str]]]:
    out = []
    for rep in t.reports:
        if rep.key.kind in _GATEWAY_KINDS:
            gw_err, gw_warn, _, _ = _split(rep)
            out.append((rep.key, gw_err, gw_warn))
    return out


def stored_snapshot_invalid(snapshot: Snapshot, profile: Profile, settings: Settings | None = None) -> bool:
    """Whether the snapshot Gloo holds already fails validation, which makes its webhook admit every write.

    ``validator.go`` ``Sync`` (both profiles): the gateway translation of every proxy, ``reports.Validate``
    (``ValidateStrict`` without ``allowWarnings`` in current); ``copySnapshotNonThreadSafe`` then refuses to
    validate ("allow writes if storage is already broken", ``InvalidSnapshotErrMessage``).

    Args:
        snapshot: What Gloo holds.
        profile: ``1.3`` or ``current``.
        settings: The Settings in force (None: the snapshot's, else Helm's defaults).

    Returns:
        True when the stored snapshot fails Gloo's validation.
    """
    config = WebhookSettings.of(settings or snapshot.settings or helm_default_settings_with_validation(), profile)
    t = Translator(profile).translate(snapshot)
    strict = profile != "1.3" and not config.allow_warnings
    return any(_solo_kit_validate(_gateway_reports(p), strict) for p in (t.proxies or [t]))


def _proxies(t: Translation) -> list[Translation]:
    return sorted(t.proxies or ([t] if t.proxy.listeners else []), key=lambda p: p.proxy.name)


def _validate_current(t: Translation, change: Change,
                      config: WebhookSettings) -> tuple[str, list[str], tuple[str, ...]]:
    errs: list[str] = []
    for p in _proxies(t):
        # translateGlooEdgeProxies: the gateway translator's reports first; a proxy that fails them is not sent to Gloo.
        gateway_errors = _solo_kit_validate(_gateway_reports(p), not config.allow_warnings)
        if gateway_errors:
            errs.append(f"could not render proxy: {_eris_multi(gateway_errors)}")
            continue
        px_err: list[str] = []
        px_warn: list[str] = []
        for rep in p.reports:
            if rep.key.kind in _GATEWAY_KINDS:
                _, _, e, w = _split(rep)
                px_err += e
                px_warn += w
        if px_err:
            # appendProxyErrors: proxyFailedGlooValidation(GetProxyError(...)), then the next proxy.
            errs.append(f"failed to validate Proxy [namespace: {p.proxy.namespace}, name: {p.proxy.name}] with gloo "
                        f"validation: {_eris_multi(px_err)}")
            continue
        if px_warn and not config.allow_warnings:
            errs.extend(px_warn)  # each warning is its own error (errors.New(warning))
            continue
        # getErrorsFromGlooValidation: the Gloo translation's resource reports (Upstreams; their errors are
        # warnings after the sanitizers, so they count only without allowWarnings).
        upstream = [(r.key, list(r.errors), list(r.warnings)) for r in p.reports
                    if r.key.kind in ("Upstream", "UpstreamGroup") and not r.key.name.startswith("kube-svc:")]
        resource_errors = _solo_kit_validate(upstream, not config.allow_warnings)
        if resource_errors:
            errs.append(f"failed gloo validation resource reports: {_eris_multi(resource_errors)}")
    if not errs:
        return "", [], ()
    go_type = _GO_TYPE[change.key.kind]
    inner = f"validating {go_type} {_go_ref(change.key, 'current')}: {_eris_multi(errs)}"
    if change.operation == "DELETE":
        # deleteRef: "failed validating the deletion of resource namespace: %s name: %s"
        item = f"failed validating the deletion of resource namespace: {change.key.namespace} " \
               f"name: {change.key.name}: {inner}"
    else:
        # validateModifiedResource wraps it in a one-error multierror "Validating %T failed", validateGvk again.
        item = f"Validating {go_type} failed: {multierror_text([f'Validating {go_type} failed: {inner}'])}"
    return f"resource incompatible with current Gloo snapshot: [{item}]", errs, (f"Error {item}",)


def _ref_of(route: object) -> tuple[str, str] | None:
    # routesContainRefs@v1.3.20: the deprecated name/namespace, else a ref; selectors are "not hard referential
    # constraints" and never count.
    action = getattr(route, "delegate_action", None)
    if action is None:
        return None
    if action.name or action.namespace:
        return (action.namespace, action.name)
    if action.ref is not None:
        return (action.ref.namespace, action.ref.name)
    return None


def _proxies_13(snapshot: Snapshot, key: ResourceKey) -> set[str]:
    # validator.go@v1.3.20: proxiesForVirtualService (the proxies whose Gateways contain the VS),
    # proxiesForRouteTable (those of the VSs that reach the RouteTable through refs), GetProxyNamesForGateway.
    gateways = snapshot.gateways or helm_default_gateways()
    if key.kind == "Gateway":
        gw = next((g for g in gateways if g.key == key), None)
        return set(gw.proxy_names or (DEFAULT_PROXY,)) if gw is not None else set()
    if key.kind == "VirtualService":
        vss = {key}
    else:
        refs = {(key.namespace, key.name)}
        while True:
            more = {(rt.meta.namespace, rt.meta.name) for rt in snapshot.route_tables
                    if any(_ref_of(r) in refs for r in rt.routes)}
            if more <= refs:
                break
            refs |= more
        vss = {vs.key for vs in snapshot.virtual_services if vs.virtual_host is not None
               and any(_ref_of(r) in refs for r in vs.virtual_host.routes)}
    return {name for name in proxy_names(gateways)
            if any(k in vss for k in proxy_virtual_services(snapshot, name))}


def _validate_13(t: Translation, change: Change) -> tuple[str, list[str], tuple[str, ...]]:
    errs: list[str] = []
    proxy_errors: list[str] = []
    causes: list[str] = []
    wanted = _proxies_13(t.snapshot, change.key)
    for p in _proxies(t):
        if p.proxy.name not in wanted:
            continue
        gateway_errors = _solo_kit_validate(_gateway_reports(p), strict=False)
        if gateway_errors:
            errs.append(f"could not render proxy: {multierror_text(gateway_errors)}")
            continue
        px_err = [e for rep in p.reports if rep.key.kind in _GATEWAY_KINDS for e in _split(rep)[2]]
        if px_err:
            # GetProxyError@v1.3.20 combines with go.uber.org/multierr ("; "); warnings never count.
            proxy_errors.append("; ".join(px_err))
            # getFailureCauses@v1.3.20: "<Level> Error <Type>: <reason>" per error of the proxy report.
            causes += [_cause_13(e) for e in px_err]
            errs.append(f"failed to validate Proxy with Gloo validation server: {'; '.join(px_err)}")
    if not errs:
        return "", [], ()
    if proxy_errors:
        # makeAdmissionResponse@v1.3.20: with proxy reports, "resource incompatible with current Gloo snapshot: %v"
        # of the proxies' errors.
        return f"resource incompatible with current Gloo snapshot: [{' '.join(proxy_errors)}]", errs, tuple(causes)
    go_type = _GO_TYPE[change.key.kind]
    return (f"Validating {go_type} failed: validating {go_type} {_go_ref(change.key, '1.3')}: {'; '.join(errs)}",
            errs, ())


def _cause_13(error: str) -> str:
    # proxy_validation.go's "<Level> Error: <Type>. Reason: <reason>" becomes getFailureCauses' "<Level> Error
    # <Type>: <reason>" (the route name gloo_nb appends in current is not in 1.3's messages).
    match = re.match(r"^(\w+) Error: (\w+)\. Reason: (.*)$", error, re.S)
    return f"{match[1]} Error {match[2]}: {match[3]}" if match else error


@dataclass(frozen=True, slots=True)
class Verdict:
    """The webhook's answer to one resource of a batch (``gloo-nb check --webhook``).

    Attributes:
        change: The write asked about.
        decision: Gloo's webhook's answer.
    """

    change: Change
    decision: Decision

    def line(self) -> str:
        """One line: ``<Kind> <ns>/<name>: denied: <Gloo's denial on one line>``, or ``admitted`` and why.

        Returns:
            The line (Gloo's multi-line text with its line breaks folded into spaces; ``--json`` keeps it exact).
        """
        d = self.decision
        if not d.allowed:
            return f"{self.change.key}: denied: {_one_line(d.denial())}"
        if d.errors:
            return f"{self.change.key}: admitted (alwaysAccept; Gloo only logs: {_one_line(d.message)})"
        if not d.validated:
            return f"{self.change.key}: admitted (not validated: {d.reason})"
        return f"{self.change.key}: admitted"

    def as_json(self) -> dict[str, object]:
        """The verdict for ``--json``.

        Returns:
            ``kind``, ``namespace``, ``name``, ``operation`` and the decision's fields (:meth:`Decision.as_json`).
        """
        key = self.change.key
        return {"kind": key.kind, "namespace": key.namespace, "name": key.name, "operation": self.change.operation,
                **self.decision.as_json()}


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()


def decide_all(snapshot: Snapshot, resources: Iterable[Resource], profile: Profile, settings: Settings | None = None,
               *, namespace: str = GLOO_NAMESPACE) -> list[Verdict]:
    """Put resources to Gloo's webhook one after the other, as ``kubectl apply -f`` sends them.

    Each resource is a CREATE when the snapshot lacks it, else an UPDATE of what the snapshot holds. An admitted
    resource is then part of the snapshot the next one is checked against (a denied one is not), as Gloo's
    validator updates its snapshot after each admitted write (``validateSnapshot``: "update internal snapshot to
    handle race where a lot of resources may be applied at once").

    Args:
        snapshot: What Gloo holds before (a cluster's resources; empty for files alone).
        resources: The resources to write, in order; kinds Gloo does not validate are admitted and applied.
        profile: ``1.3`` or ``current``.
        settings: The Settings in force (None: the snapshot's, else Helm's defaults).
        namespace: Gloo's install namespace.

    Returns:
        One verdict per resource of a kind the webhook sees (every Gloo resource kind of :data:`VALIDATED` in
        either profile), in order.
    """
    seen = {kind for kinds in VALIDATED.values() for kind in kinds}
    verdicts: list[Verdict] = []
    for res in resources:
        existing = _find(snapshot, res.key)
        change = Change("UPDATE" if existing is not None else "CREATE", res.key, res, existing)
        decision = decide(snapshot, change, profile, settings, namespace=namespace)
        if res.kind in seen:
            verdicts.append(Verdict(change, decision))
        if decision.allowed and res.kind in _FIELDS:
            snapshot = with_change(snapshot, res.key, res)
    return verdicts


def _find(snapshot: Snapshot, key: ResourceKey) -> Resource | None:
    name = _FIELDS.get(key.kind)
    if name is None:
        return None
    return next((r for r in getattr(snapshot, name) if r.key == key), None)


def recheck_all(snapshot: Snapshot, profile: Profile, settings: Settings | None = None, *,
                namespace: str = GLOO_NAMESPACE) -> list[Verdict]:
    """Would Gloo's webhook admit each resource a cluster holds, were it written now next to all the others?

    Each VirtualService, RouteTable, Gateway and Upstream is put to :func:`decide` as a CREATE against the snapshot
    without it: what a webhook switched on (or made strict) now would say of what was written before.

    Args:
        snapshot: The cluster's resources.
        profile: ``1.3`` or ``current``.
        settings: The Settings in force (None: the snapshot's, else Helm's defaults).
        namespace: Gloo's install namespace.

    Returns:
        One verdict per resource, by kind then namespace and name.
    """
    out: list[Verdict] = []
    held: list[Resource] = [*snapshot.virtual_services, *snapshot.route_tables, *snapshot.gateways, *snapshot.upstreams]
    for res in held:
        change = Change("CREATE", res.key, res)
        out.append(Verdict(change, decide(with_change(snapshot, res.key, None), change, profile, settings,
                                          namespace=namespace)))
    return out
