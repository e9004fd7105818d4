"""UpstreamGroups: Gloo's shared weighted destinations, looked up and verified as Gloo does.

Sources: ``projects/gloo/pkg/translator/upstream_groups.go:verifyUpstreamGroups`` (the UpstreamGroup's own
report, at v1.3.20 and main), ``translator/route_config.go:setRouteAction`` / ``validateUpstreamGroup`` (how a
route uses a group: the same weighted clusters as an inline ``multi``) and the generated
``UpstreamGroupList.Find`` / ``UpstreamList.Find`` (``projects/gloo/pkg/api/v1/*.sk.go``): at v1.3.20 a reference
without a namespace matches the first resource of that name in any namespace; on main the namespace must be equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from gloo_nb._types import Profile
from gloo_nb.models import ResourceKey, Unmodelled
from gloo_nb.models.resources import Destination, ResourceRef, UpstreamGroup, WeightedDestination

__all__ = ["find_upstream_group", "group_destinations", "verify_upstream_groups"]


def find_upstream_group(groups: Sequence[UpstreamGroup], ref: ResourceRef,
                        profile: Profile = "current") -> UpstreamGroup | None:
    """The generated ``UpstreamGroupList.Find(namespace, name)``.

    v1.3.20 (``upstream_group.sk.go``) matches the name, and the namespace only when one is given: a reference
    without a namespace finds the first group of that name (the list is sorted by namespace, then name). Main
    requires both to be equal.

    Args:
        groups: The snapshot's UpstreamGroups, sorted as solo-kit sorts them.
        ref: The route's ``upstreamGroup`` reference.
        profile: Behaviour profile.

    Returns:
        The group, or None (Gloo's ``*v1.UpstreamGroup ... not found``).
    """
    for ug in groups:
        if ug.meta.name == ref.name and (ug.meta.namespace == ref.namespace
                                         or (profile == "1.3" and not ref.namespace)):
            return ug
    return None


def group_destinations(ug: UpstreamGroup, profile: Profile) -> tuple[WeightedDestination, ...]:
    """The group's destinations as the route translator sees them.

    Current Gloo's ``verifyUpstreamGroups`` runs before the routes are translated and writes the group's
    namespace into every ``upstream`` reference that has none (it changes the snapshot's object in place,
    so the routes see the filled-in namespace). v1.3.20 did not: the empty namespace stays, and the
    cluster is named after the upstream's name alone.

    Args:
        ug: The group.
        profile: Behaviour profile.

    Returns:
        Its weighted destinations.
    """
    if profile == "1.3":
        return ug.destinations
    out = []
    for wd in ug.destinations:
        up = wd.destination.upstream
        if up is not None and not up.namespace:
            wd = replace(wd, destination=replace(wd.destination, upstream=ResourceRef(up.name, ug.meta.namespace)))
        out.append(wd)
    return tuple(out)


def _upstream_ref(dest: Destination, kube_name: Callable[[str, str, int], str]) -> ResourceRef | str | None:
    # upstreams/conversions.go:DestinationToUpstreamRef; a string is its error text.
    if dest.upstream is not None:
        return dest.upstream
    if dest.kube is not None:
        ns = dest.kube.ref.namespace
        return ResourceRef(kube_name(ns, dest.kube.ref.name, dest.kube.port), ns)
    if dest.consul is not None:
        return None
    return "no destination type specified"


def verify_upstream_groups(groups: Sequence[UpstreamGroup], exists: Callable[[ResourceRef], bool],
                           profile: Profile, kube_name: Callable[[str, str, int], str],
                           add_error: Callable[[ResourceKey, str], None],
                           declare: Callable[[Unmodelled], None]) -> None:
    """``verifyUpstreamGroups``: every destination of every group must name an existing Upstream.

    Errors go on the UpstreamGroup (``reports.AddError(ug, ...)``), with Gloo's texts:
    ``destination # N: destination is nil``, DestinationToUpstreamRef's error, and
    ``destination # N: upstream not found: list did not find upstream NS.NAME`` (eris' ``Wrapf`` joins the
    wrapper and the cause with ``": "``; the cause is solo-kit's ``UpstreamList.Find`` error).

    Args:
        groups: The snapshot's UpstreamGroups.
        exists: Whether Gloo's ``UpstreamList.Find`` finds an Upstream (or an in-memory ``kube-svc:`` one).
        profile: Behaviour profile (current fills an empty upstream namespace with the group's first).
        kube_name: ``kube-svc:`` upstream naming.
        add_error: Files a Gloo error on a resource.
        declare: Declares what gloo_nb does not model (consul destinations, which it does not resolve).
    """
    for ug in groups:
        nil = set(ug.nil_destinations)
        for i, wd in enumerate(group_destinations(ug, profile)):
            if i in nil:
                add_error(ug.key, f"destination # {i + 1}: destination is nil")
                continue
            ref = _upstream_ref(wd.destination, kube_name)
            if ref is None:
                declare(Unmodelled(ug.key, f"spec.destinations[{i}].destination.consul", "consul destinations",
                                   "gloo_nb does not resolve them, so it cannot tell whether Gloo finds this upstream"))
                continue
            if isinstance(ref, str):
                add_error(ug.key, ref)
                continue
            if not exists(ref):
                add_error(ug.key, f"destination # {i + 1}: upstream not found: list did not find upstream "
                                  f"{ref.namespace}.{ref.name}")
