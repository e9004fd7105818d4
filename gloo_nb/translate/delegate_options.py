"""``optionsConfigRefs.delegateOptions``: VirtualHostOption and RouteOption resources merged into options.

Current Gloo only (the kinds and the field arrived after v1.3.20: ``projects/gateway/api/v1/virtual_service.proto``
at v1.3.20 has no ``optionsConfigRefs``; ``external_options.proto`` does not exist there).

* Virtual hosts: ``projects/gateway/pkg/translator/virtual_service_translator.go:mergeDelegatedVirtualHostOptions``,
  before the routes are converted: for each ref in order, ``VirtualHostOptionList.Find(namespace, name)``; a
  missing one is a warning on the VirtualService with Find's error text
  (``list did not find virtualHostOption <ns>.<name>``, ``projects/gateway/pkg/api/v1/virtual_host_option.sk.go``);
  a found one fills the fields the VirtualService's options leave unset (``utils.ShallowMergeVirtualHostOptions``,
  ``projects/gloo/pkg/utils/merge.go``). So the resource's own options win, then earlier refs over later ones.
* Routes: ``projects/gateway/pkg/translator/converter.go:routeVisitor.visit``, on each route before it is merged
  with its parent route: the same, with ``RouteOptionList.Find`` (``list did not find routeOption <ns>.<name>``,
  ``route_option.sk.go``) and ``ShallowMergeRouteOptions``; a missing ref warns through ``reporterHelper.addWarning``
  (on the route's resource, and wrapped on the top VirtualService when that is a RouteTable).

Find compares namespace and name exactly: a ref without a namespace finds nothing (no default to the owner's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.models import ResourceRef, Snapshot
from gloo_nb.translate.route_options import ROUTE_ONEOFS, VHOST_ONEOFS, shallow_merge_options

__all__ = ["DelegatedOptions", "missing_route_option", "missing_virtual_host_option"]


def missing_virtual_host_option(ref: ResourceRef) -> str:
    """Gloo's warning for a missing VirtualHostOption (``VirtualHostOptionList.Find``'s error)."""
    return f"list did not find virtualHostOption {ref.namespace}.{ref.name}"


def missing_route_option(ref: ResourceRef) -> str:
    """Gloo's warning for a missing RouteOption (``RouteOptionList.Find``'s error)."""
    return f"list did not find routeOption {ref.namespace}.{ref.name}"


@dataclass(frozen=True)
class DelegatedOptions:
    """The ``options`` of a snapshot's VirtualHostOptions and RouteOptions, by (namespace, name).

    One lookup serves one proxy's translation: Gloo's merge writes into a VirtualHostOption's options when a
    VirtualService without options of its own delegates to several (:meth:`merge_virtual_host`), and later
    VirtualServices of the same translation read the changed object.

    Attributes:
        virtual_host: VirtualHostOption options (updated by that write-through).
        route: RouteOption options.
    """

    virtual_host: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    route: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, profile: Profile) -> DelegatedOptions | None:
        """The lookup for a snapshot, or None in 1.3 (Gloo 1.3 has neither kind nor ``optionsConfigRefs``).

        Args:
            snapshot: The resources.
            profile: ``1.3`` or ``current``.

        Returns:
            The lookup; None for profile 1.3.
        """
        if profile == "1.3":
            return None
        # Find returns the first match in list order; the snapshot holds one object per identity.
        vh: dict[tuple[str, str], Mapping[str, Any]] = {}
        for v in snapshot.virtual_host_options:
            vh.setdefault((v.meta.namespace, v.meta.name), v.options)
        rt: dict[tuple[str, str], Mapping[str, Any]] = {}
        for r in snapshot.route_options:
            rt.setdefault((r.meta.namespace, r.meta.name), r.options)
        return cls(vh, rt)

    def merge_virtual_host(self, own: Mapping[str, Any], refs: Sequence[ResourceRef],
                           profile: Profile) -> tuple[Mapping[str, Any], list[str]]:
        """A virtual host's options with its delegated ones merged in, and Gloo's warnings for missing refs.

        Args:
            own: The VirtualService's ``virtualHost.options``.
            refs: Its ``optionsConfigRefs.delegateOptions``.
            profile: The behaviour profile.

        Returns:
            The merged options and the warnings, in ref order.
        """
        merged = own
        aliased: tuple[str, str] | None = None
        warnings: list[str] = []
        for ref in refs:
            key = (ref.namespace, ref.name)
            options = self.virtual_host.get(key)
            if options is None:
                warnings.append(missing_virtual_host_option(ref))
                continue
            if not merged:
                # ``vs.VirtualHost.Options = vhOption.GetOptions()``: the VirtualService now holds the
                # VirtualHostOption's own proto (no clone, unlike routes' isolateDelegateRouteOptions) ...
                merged, aliased = options, key
                continue
            merged = shallow_merge_options(merged, options, VHOST_ONEOFS, profile)
            if aliased is not None:
                # ... so the next ShallowMergeVirtualHostOptions fills that VirtualHostOption in place: every
                # VirtualService translated later from the same snapshot sees it with these fields too.
                self.virtual_host[aliased] = merged
        return merged, warnings

    def merge_route(self, own: Mapping[str, Any], refs: Sequence[ResourceRef],
                    profile: Profile) -> tuple[Mapping[str, Any], list[str]]:
        """A route's options with its delegated ones merged in, and Gloo's warnings for missing refs.

        Args:
            own: The route's ``options``.
            refs: Its ``optionsConfigRefs.delegateOptions``.
            profile: The behaviour profile.

        Returns:
            The merged options and the warnings, in ref order.
        """
        return _merge(own, refs, self.route, ROUTE_ONEOFS, missing_route_option, profile)


def _merge(own: Mapping[str, Any], refs: Sequence[ResourceRef], found: Mapping[tuple[str, str], Mapping[str, Any]],
           oneofs: Sequence[frozenset[str]], missing: Any, profile: Profile) -> tuple[Mapping[str, Any], list[str]]:
    merged = own
    warnings: list[str] = []
    for ref in refs:
        options = found.get((ref.namespace, ref.name))
        if options is None:
            # "missing refs should only result in a warning" (both Gloo call sites).
            warnings.append(missing(ref))
            continue
        merged = shallow_merge_options(merged, options, oneofs, profile)
    return merged, warnings
