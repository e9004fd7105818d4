"""What gloo_nb declares it does not model in VirtualServices and RouteTables, and strict decoding of ``options``.

Two walks over the routes and virtual hosts of a snapshot, both driven by
:mod:`gloo_nb.translate.option_catalogue`:

* :func:`declared_unmodelled`: one :class:`~gloo_nb.models.Unmodelled` per ``options`` field whose effect
  gloo_nb does not reproduce (every key not in the catalogue's ``MODELLED_*`` registries, and the parts of
  modelled keys in its ``UNMODELLED_NESTED``, e.g. ``headerSecretRef`` values), per
  ``optionsConfigRefs``, per ``destinationSpec`` (AWS/Azure/gRPC/REST function destinations) and per
  GraphQL action (Gloo Enterprise). Never findings: Gloo may well accept and apply them.
* :func:`option_decoding_findings`: Gloo decodes every resource strictly with jsonpb (solo-kit
  ``protoutils.UnmarshalResource``, called by the validation webhook
  ``projects/gateway/pkg/services/k8sadmission/validating_admission_webhook.go``, ``k8sadmisssion`` at
  v1.3.20): an unknown field or a value of the wrong JSON type anywhere inside ``options`` makes the
  whole resource unreadable, with the webhook's message ``could not unmarshal raw object: parsing
  resource from crd spec <name> in namespace <ns> into *v1.<Kind>: <jsonpb error>``. jsonpb stops at the
  first error, so Gloo names one problem per resource; gloo_nb gives that one (known fields in proto
  order first, then the first unknown key in document order: Go's map order is random).

  Error texts: unknown field ``unknown field "<key>" in <message>``, the message named by its full proto
  name in current Gloo (golang/protobuf jsonpb; Gloo's ``projects/gateway/pkg/validation/validator_test.go``
  expects ``unknown field "matcherss" in gateway.solo.io.Route``) and by its Go type in 1.3 (gogo jsonpb;
  v1.3.20 ``test/kube2e/gateway/gateway_test.go`` expects ``unknown field "virtualHoost" in
  v1.VirtualService``). Wrong types: ``encoding/json``'s ``json: cannot unmarshal <json type> into Go value
  of type <go type>``; durations ``bad Duration: time: ...`` (jsonpb's Duration reader).

  gloo_nb does not model what the read failure does next (the webhook refuses the apply; without the
  webhook, solo-kit's kube client cannot list the kind): the finding says so, and the translation goes
  on with the resource as written, its unreadable option ignored. That finding is the one message for the
  problem: ``route_options``' own "cannot read" issues inside such a resource are not repeated
  (``envoy.ProxyTranslator(undecodable=...)``), and fields a profile lacks get no note of their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.models import (
    Finding,
    ResourceKey,
    Route,
    RouteOption,
    RouteTable,
    Snapshot,
    Unmodelled,
    VirtualHostOption,
    VirtualService,
)
from gloo_nb.translate.option_catalogue import (
    ROUTE_OPTIONS,
    VIRTUAL_HOST_OPTIONS,
    WEIGHTED_DESTINATION_OPTIONS,
    OptionField,
    OptionMessage,
    feature_of,
    is_modelled,
    nested_gaps,
)
from gloo_nb.translate.proxy import ProxyRoute
from gloo_nb.translate.route_options import parse_go_duration

__all__ = ["declared_unmodelled", "decode_options", "option_decoding_findings", "route_features"]

OPTIONS_CONFIG_REFS_MODELLED = True
"""Whether gloo_nb applies ``optionsConfigRefs.delegateOptions`` (VirtualHostOption/RouteOption resources)."""


def _owners(snapshot: Snapshot) -> Iterator[tuple[ResourceKey, str, Sequence[Route], Mapping[str, Any] | None]]:
    # (resource, path of its routes list, routes, virtual host options or None)
    for vs in snapshot.virtual_services:
        if isinstance(vs, VirtualService) and vs.virtual_host is not None:
            yield vs.key, "spec.virtualHost.routes", vs.virtual_host.routes, vs.virtual_host.options
    for rt in snapshot.route_tables:
        if isinstance(rt, RouteTable):
            yield rt.key, "spec.routes", rt.routes, None


def _declare_options(key: ResourceKey, where: str, options: Mapping[str, Any], message: OptionMessage,
                     profile: Profile, out: list[Unmodelled]) -> None:
    fields = message.fields or {}
    for name, value in options.items():
        field = fields.get(_camel(str(name)))
        if value is None or field is None or (profile == "1.3" and field.since != "1.3"):
            continue  # unknown to this profile's Gloo: a decoding error (option_decoding_findings), not a feature
        if not is_modelled(message, _camel(str(name)), profile):
            out.append(Unmodelled(key, f"{where}.{name}", feature_of(message, _camel(str(name)))))
            continue
        feature = feature_of(message, _camel(str(name)))
        for at, written in _proto_names(f"{where}.{name}", str(name), value, field, profile):
            out.append(Unmodelled(key, at, feature, f"written with its proto name {written}: gloo_nb reads only the "
                                                    f"JSON name {_camel(written)} and leaves this out"))
    # Parts of modelled fields that translate/route_options.py leaves out (option_catalogue.UNMODELLED_NESTED).
    for at, gap in nested_gaps(message, options, profile):
        out.append(Unmodelled(key, f"{where}.{at}", gap.feature, gap.detail))


def _proto_names(at: str, name: str, value: Any, field: OptionField,
                 profile: Profile) -> Iterator[tuple[str, str]]:
    # jsonpb reads ``prefix_rewrite`` as ``prefixRewrite``; translate/route_options.py reads the JSON names only,
    # so a modelled field written with its proto name is declared rather than dropped in silence.
    if "_" in name:
        yield at, name
        return
    if field.message is None or field.message.fields is None:
        return
    items = list(enumerate(value)) if field.repeated and isinstance(value, list) else [(None, value)]
    for i, item in items:
        if not isinstance(item, Mapping):
            continue
        here = at if i is None else f"{at}[{i}]"
        for sub, v in item.items():
            f = field.message.fields.get(_camel(str(sub)))
            if v is not None and f is not None and (profile != "1.3" or f.since == "1.3"):
                yield from _proto_names(f"{here}.{sub}", str(sub), v, f, profile)


def _camel(name: str) -> str:
    # jsonpb accepts a field's JSON name and its proto (snake_case) name alike.
    if "_" not in name:
        return name
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def declared_unmodelled(snapshot: Snapshot, profile: Profile) -> list[Unmodelled]:
    """Every field of the snapshot's VirtualServices and RouteTables whose effect gloo_nb does not reproduce.

    Args:
        snapshot: The resources.
        profile: The behaviour profile (a key gloo_nb models in one profile only is declared in the other).

    Returns:
        The declarations, per resource in snapshot order, per route in order.
    """
    out: list[Unmodelled] = []
    for key, routes_path, routes, vh_options in _owners(snapshot):
        if vh_options:
            _declare_options(key, "spec.virtualHost.options", vh_options, VIRTUAL_HOST_OPTIONS, profile, out)
        for i, route in enumerate(routes):
            where = f"{routes_path}[{i}]"
            if route.unmodelled_action:
                out.append(Unmodelled(key, f"{where}.{route.unmodelled_action}", "GraphQL (Gloo Enterprise)",
                                      "gloo_nb reads this route as one without an action"))
            if route.options:
                _declare_options(key, f"{where}.options", route.options, ROUTE_OPTIONS, profile, out)
            if route.options_config_refs and not OPTIONS_CONFIG_REFS_MODELLED:
                out.append(Unmodelled(key, f"{where}.optionsConfigRefs", "RouteOption resources (optionsConfigRefs)"))
            action = route.route_action
            if action is None:
                continue
            base = f"{where}.routeAction"
            if action.single is not None and action.single.destination_spec:
                for kind in action.single.destination_spec:
                    out.append(Unmodelled(key, f"{base}.single.destinationSpec.{kind}",
                                          f"{kind} destinationSpec (function routing)"))
            for j, weighted in enumerate(action.multi or ()):
                at = f"{base}.multi.destinations[{j}]"
                if weighted.destination.destination_spec:
                    for kind in weighted.destination.destination_spec:
                        out.append(Unmodelled(key, f"{at}.destination.destinationSpec.{kind}",
                                              f"{kind} destinationSpec (function routing)"))
                if weighted.options:
                    _declare_options(key, f"{at}.options", weighted.options, WEIGHTED_DESTINATION_OPTIONS,
                                     profile, out)
    _declare_option_resources(snapshot, profile, out)
    if snapshot.virtual_services:
        for vs in snapshot.virtual_services:
            vh = vs.virtual_host if isinstance(vs, VirtualService) else None
            if vh is not None and vh.options_config_refs and not OPTIONS_CONFIG_REFS_MODELLED:
                out.append(Unmodelled(vs.key, "spec.virtualHost.optionsConfigRefs",
                                      "VirtualHostOption resources (optionsConfigRefs)"))
    return out


def _declare_option_resources(snapshot: Snapshot, profile: Profile, out: list[Unmodelled]) -> None:
    # VirtualHostOption / RouteOption (projects/gateway/api/v1/external_options.proto, not in v1.3.20).
    pairs: list[tuple[VirtualHostOption | RouteOption, OptionMessage]] = [
        *((v, VIRTUAL_HOST_OPTIONS) for v in snapshot.virtual_host_options),
        *((r, ROUTE_OPTIONS) for r in snapshot.route_options)]
    for res, message in pairs:
        if profile == "1.3":
            out.append(Unmodelled(res.key, "kind", f"{res.kind} resources",
                                  "Gloo 1.3 has no such kind (added after v1.3.20): it never reads this resource"))
            continue
        if res.options:
            _declare_options(res.key, "spec.options", res.options, message, profile, out)
        if res.target_refs:
            # Gloo Edge applies targetRefs only in its Kubernetes Gateway API translator (projects/gateway2:
            # virtualhostoptions/query/indexers.go targets listener kinds (utils.ListenerTargetRefGVKs: Gateway,
            # ListenerSet), routeoptions/query/indexers.go HTTPRoutes); the Edge translator never reads them.
            target = "Gateway API Gateways" if res.kind == "VirtualHostOption" else "Gateway API HTTPRoutes"
            out.append(Unmodelled(res.key, "spec.targetRefs", f"{res.kind} targetRefs attachment",
                                  f"attaches to {target}, which gloo_nb does not model; gloo_nb applies this "
                                  f"resource only where optionsConfigRefs.delegateOptions name it"))


def route_features(route: ProxyRoute, vh_options: Mapping[str, Any] | None, profile: Profile) -> list[str]:
    """What gloo_nb does not predict of one Proxy route: its (merged) options, its virtual host's, its destinations'.

    Args:
        route: The Proxy route (options already merged from its parents, as Gloo merges them).
        vh_options: Its virtual host's options.
        profile: The behaviour profile.

    Returns:
        Feature names, without repeats, in route, destination, virtual host order (empty: fully modelled).
    """
    action = route.route_action
    if not route.options and not vh_options and (action is None or (
            not action.multi and (action.single is None or not action.single.destination_spec))):
        return []  # the common case, kept cheap: 100,000 plain routes
    found: list[Unmodelled] = []
    nowhere = ResourceKey("", "", "")
    _declare_options(nowhere, "", route.options, ROUTE_OPTIONS, profile, found)
    if action is not None:
        dests = [action.single] if action.single is not None else [w.destination for w in action.multi or ()]
        for dest in dests:
            for kind in dest.destination_spec or ():
                found.append(Unmodelled(nowhere, "", f"{kind} destinationSpec (function routing)"))
        for weighted in action.multi or ():
            _declare_options(nowhere, "", weighted.options, WEIGHTED_DESTINATION_OPTIONS, profile, found)
    if vh_options:
        _declare_options(nowhere, "", vh_options, VIRTUAL_HOST_OPTIONS, profile, found)
    return list(dict.fromkeys(u.feature for u in found))


# --- strict decoding ------------------------------------------------------------------------------

def _json_type(value: Any) -> str:
    # encoding/json's names for the JSON value kinds (UnmarshalTypeError.Value).
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    return "array"


def _cannot(value: Any, go_type: str) -> str:
    return f"json: cannot unmarshal {_json_type(value)} into Go value of type {go_type}"


def go_duration_error(text: str) -> str | None:
    """The error Go's ``time.ParseDuration`` gives for a string, or None when it parses.

    Args:
        text: The duration text (``1.5s``, ``100ms``, ``1h30m``).

    Returns:
        ``time: invalid duration "x"`` (also for an int64 overflow), ``time: missing unit in duration "x"`` or
        ``time: unknown unit "u" in duration "x"`` (Go's ``time/format.go``), or None.
    """
    try:
        parse_go_duration(text)
    except ValueError as exc:
        return str(exc)
    return None


_GO_SCALARS = {"string": "string", "bool": "bool", "uint32": "uint32", "float": "float32"}


def _value_error(value: Any, f: OptionField) -> str | None:
    if f.shape == "string":
        return None if isinstance(value, str) else _cannot(value, "string")
    if f.shape == "bool":
        return None if isinstance(value, bool) else _cannot(value, "bool")
    if f.shape in ("uint32", "float"):
        # jsonpb trims the quotes of numbers written as strings (trimQuote) before json.Unmarshal.
        raw: Any = value
        if isinstance(value, str):
            try:
                raw = float(value) if f.shape == "float" else int(value)
            except ValueError:
                first = value[:1] or '"'
                return f"invalid character '{first}' looking for beginning of value"
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return _cannot(value, _GO_SCALARS[f.shape])
        if f.shape == "uint32" and (raw != int(raw) or not 0 <= raw < 2**32):
            return f"json: cannot unmarshal number {value} into Go value of type uint32"
        return None
    if f.shape == "duration":
        if not isinstance(value, str):
            return _cannot(value, "string")
        problem = go_duration_error(value)
        return None if problem is None else f"bad Duration: {problem}"
    if f.shape in ("message", "map"):
        return None if isinstance(value, Mapping) else _cannot(value, "map[string]json.RawMessage")
    return None


def decode_options(value: Mapping[str, Any], message: OptionMessage, profile: Profile,
                   path: str) -> tuple[str, str] | None:
    """The first error Gloo's strict jsonpb decoding finds in an options block.

    Args:
        value: The block as written.
        message: Its message type (:mod:`~gloo_nb.translate.option_catalogue`).
        profile: ``1.3`` (gogo jsonpb, Go type names, v1.3.20's fields) or ``current``.
        path: The block's field path, for the finding.

    Returns:
        ``(field path, jsonpb error text)``, or None when Gloo reads the block.
    """
    fields = message.fields
    if fields is None:
        return None
    known = {k: f for k, f in fields.items() if profile != "1.3" or f.since == "1.3"}
    written = {_camel(str(k)): k for k in value}
    for key, f in known.items():
        # jsonpb reads the known fields in the message's order, then complains about the rest.
        v = value.get(written.get(key, key))
        if v is None:
            continue
        where = f"{path}.{written.get(key, key)}"
        if f.repeated:
            if not isinstance(v, list | tuple):
                return where, _cannot(v, "[]json.RawMessage")
            items: Sequence[tuple[str, Any]] = [(f"{where}[{i}]", item) for i, item in enumerate(v)]
        else:
            items = [(where, v)]
        for at, item in items:
            problem = _value_error(item, f)
            if problem is not None:
                return at, problem
            if f.shape == "message" and f.message is not None and isinstance(item, Mapping):
                nested = decode_options(item, f.message, profile, at)
                if nested is not None:
                    return nested
    for key in value:
        if _camel(str(key)) not in known:
            name = message.go if profile == "1.3" else message.proto
            return f"{path}.{key}", f'unknown field "{key}" in {name}'
    return None


def _blocks(snapshot: Snapshot, profile: Profile = "current",
            ) -> Iterator[tuple[ResourceKey, str, Mapping[str, Any], OptionMessage | str]]:
    # Options blocks in the order jsonpb meets them: VirtualHost fields are domains, routes, options;
    # Route fields put the action (with multi destinations' options) before options.
    # A string in place of the message is a ready jsonpb error: v1.3.20 has no ``optionsConfigRefs`` (absent from
    # its virtual_service.proto and route_table.proto), which gogo jsonpb reports after the message's known fields.
    for key, routes_path, routes, vh_options in _owners(snapshot):
        for i, route in enumerate(routes):
            where = f"{routes_path}[{i}]"
            action = route.route_action
            for j, weighted in enumerate(action.multi or () if action is not None else ()):
                if weighted.options:
                    yield (key, f"{where}.routeAction.multi.destinations[{j}].options", weighted.options,
                           WEIGHTED_DESTINATION_OPTIONS)
            if route.options:
                yield key, f"{where}.options", route.options, ROUTE_OPTIONS
            if profile == "1.3" and route.options_config_refs:
                yield key, f"{where}.optionsConfigRefs", {}, 'unknown field "optionsConfigRefs" in v1.Route'
        if vh_options:
            yield key, "spec.virtualHost.options", vh_options, VIRTUAL_HOST_OPTIONS
        if profile == "1.3" and key.kind == "VirtualService":
            vs = next((v for v in snapshot.virtual_services if v.key == key), None)
            if vs is not None and vs.virtual_host is not None and vs.virtual_host.options_config_refs:
                yield (key, "spec.virtualHost.optionsConfigRefs", {},
                       'unknown field "optionsConfigRefs" in v1.VirtualHost')


def _option_resource_blocks(snapshot: Snapshot,
                            profile: Profile) -> Iterator[tuple[ResourceKey, str, Mapping[str, Any], OptionMessage]]:
    # VirtualHostOption / RouteOption ``spec.options`` are decoded by the same jsonpb (current only: 1.3 has
    # no such kinds and never reads them).
    if profile == "1.3":
        return
    for v in snapshot.virtual_host_options:
        if v.options:
            yield v.key, "spec.options", v.options, VIRTUAL_HOST_OPTIONS
    for r in snapshot.route_options:
        if r.options:
            yield r.key, "spec.options", r.options, ROUTE_OPTIONS


def option_decoding_findings(snapshot: Snapshot, profile: Profile) -> list[Finding]:
    """Gloo's strict-decoding error for each resource whose ``options`` it cannot read.

    VirtualServices, RouteTables, and (current) VirtualHostOptions and RouteOptions.

    Args:
        snapshot: The resources.
        profile: The behaviour profile.

    Returns:
        At most one finding per resource (jsonpb stops at the first error): severity ``error``, layer
        ``parse``, ``field`` the offending field's path, message the validation webhook's.
    """
    out: list[Finding] = []
    done: set[ResourceKey] = set()
    for key, path, block, message in (*_blocks(snapshot, profile), *_option_resource_blocks(snapshot, profile)):
        if key in done:
            continue
        problem = (path, message) if isinstance(message, str) else decode_options(block, message, profile, path)
        if problem is None:
            continue
        done.add(key)
        at, text = problem
        msg = (f"could not unmarshal raw object: parsing resource from crd spec {key.name} in namespace "
               f"{key.namespace} into *v1.{key.kind}: {text}")
        out.append(Finding(key, "error", msg, key, layer="parse", field=at))
    return out
