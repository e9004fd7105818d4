"""Envoy's own rejections of route configurations that Gloo hands it.

Gloo validates some things itself (paths, domains, weights in current) but passes others straight to Envoy, which
then refuses the whole RDS update (a NACK): the RouteConfiguration keeps its previous version on every replica, and
a replica that never had one serves no routes from it. gloo_nb predicts the NACKs it knows, each with Envoy's own
text, measured with the pinned Envoy (``envoy --mode validate``, tests/translate/test_envoy_rejections_envoy.py):

* a route without a path specifier (Gloo reports ``InvalidMatcherError`` but still emits the route);
* a RouteAction without a cluster specifier (v1.3.20 for a missing UpstreamGroup) or with ``cluster: ""`` (current
  for a missing UpstreamGroup, unless route replacement renames it);
* weighted clusters whose weights sum to 0 (v1.3.20 does not check);
* a header or query parameter matcher with an empty name, or a header name with NUL, CR or LF;
* a direct response status outside [200, 600) (a ``directResponseAction``, or the fallback listener's
  ``invalidRouteResponseCode`` when Settings leave it unset: 0);
* a regex RE2 refuses (look-around, back-references, unbalanced brackets and parentheses, a repetition without
  an operand) in a path, header or query parameter matcher.

Not predicted (gloo_nb has no RE2 to compile with): a regex over the RE2 program size limit
(``RE2 program size of N > max program size of M``, Settings' ``gloo.regexMaxProgramSize``, Envoy's default 100),
and any other RE2 syntax difference than those above. Clusters: a consistent-hashing ``useHostnameForHashing``
on a static or EDS cluster, and several (unnamed) health checks, both refuse the whole CDS update. Pure: nothing
here runs Envoy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.type.matcher.v3 import regex_pb2

__all__ = ["EnvoyRejection", "predict_cluster_rejections", "predict_rejections", "re2_problem"]


@dataclass(frozen=True, slots=True)
class EnvoyRejection:
    """One reason Envoy will NACK a resource.

    Attributes:
        type_name: The xDS resource type rejected (``RouteConfiguration``, ``Listener`` or ``Cluster``).
        resource: Its name.
        virtual_host: The Envoy virtual host of the offending route (``""`` for a cluster).
        route_index: The route's position in the virtual host (-1 for a cluster).
        route_name: The route's name (``""`` in 1.3, whose routes are often unnamed).
        reason: Envoy's (or RE2's) text.
    """

    type_name: str
    resource: str
    virtual_host: str
    route_index: int
    route_name: str
    reason: str

    def message(self) -> str:
        """The finding text: what Envoy does, and what keeps running.

        Returns:
            One line.
        """
        if self.type_name == "Cluster":
            # "One invalid cluster rejects the whole CDS response" (notes/runtime.md).
            return (f"Envoy will reject the CDS update for cluster {self.resource} (NACK): {self.reason}; the whole "
                    "update is refused, so every replica keeps its previous clusters (a replica that has none has "
                    "no clusters from this snapshot)")
        route = self.route_name or f"#{self.route_index}"
        return (f"Envoy will reject {self.type_name} {self.resource} (NACK), route {route} of virtual host "
                f"{self.virtual_host}: {self.reason}; every replica keeps its previous version of {self.resource} "
                f"(a replica that has none serves no routes from it)")


_PROTO_VALIDATION = "Proto constraint validation failed"
_HCM_TYPE = "type.googleapis.com/" + hcm_pb2.HttpConnectionManager.DESCRIPTOR.full_name

# RE2's parse errors for what Python's re accepts but RE2 does not (re2/parse.cc texts, as Envoy prints them).
_LOOKAROUND = re.compile(r"\(\?(<?[=!])")
_BACKREF = re.compile(r"\\[1-9]")


def re2_problem(pattern: str) -> str | None:
    """RE2's error for a pattern it refuses, as far as gloo_nb can tell without RE2.

    Args:
        pattern: The regex.

    Returns:
        The error text Envoy logs (``invalid perl operator: (?=`` ...), or None when gloo_nb sees no problem
        (which does not prove RE2 accepts it).
    """
    m = _LOOKAROUND.search(pattern)
    if m:
        return f"invalid perl operator: (?{m.group(1)}"
    m = _BACKREF.search(pattern)
    if m:
        return f"invalid escape sequence: {m.group(0)}"
    try:
        re.compile(pattern)
    except re.error as err:
        text = str(err)
        if "unterminated character set" in text:
            return f"missing ]: {pattern[err.pos or 0:]}"
        if "missing )" in text:
            return f"missing ): {pattern}"
        if "unbalanced parenthesis" in text:
            return f"unexpected ): {pattern}"
        if "nothing to repeat" in text:
            return f"no argument for repetition operator: {pattern[err.pos or 0:][:1]}"
        if "multiple repeat" in text:
            return f"bad repetition operator: {pattern[max((err.pos or 0) - 1, 0):][:2]}"
        return f"invalid regex: {text}"
    return None


def _regex(m: regex_pb2.RegexMatcher) -> str | None:
    # Envoy logs RE2's own text alone (no "Invalid regex" prefix), measured with the pinned Envoy.
    return re2_problem(m.regex)


def _match_problems(match: route_components_pb2.RouteMatch) -> Iterable[str]:
    which = match.WhichOneof("path_specifier")
    if which is None:
        yield (f'{_PROTO_VALIDATION} (RouteValidationError.Match: caused by field: "path_specifier", reason: '
               "is required)")
    elif which == "safe_regex":
        problem = _regex(match.safe_regex)
        if problem:
            yield problem
    for h in match.headers:
        if not h.name:
            yield (f"{_PROTO_VALIDATION} (HeaderMatcherValidationError.Name: value length must be at least 1 "
                   "characters)")
        elif any(c in h.name for c in "\x00\r\n"):
            yield (f"{_PROTO_VALIDATION} (HeaderMatcherValidationError.Name: value does not match regex pattern "
                   r'"^[^\x00\n\r]*$")')
        if h.WhichOneof("header_match_specifier") == "safe_regex_match":
            problem = _regex(h.safe_regex_match)
            if problem:
                yield problem
    for q in match.query_parameters:
        if not q.name:
            yield (f"{_PROTO_VALIDATION} (QueryParameterMatcherValidationError.Name: value length must be at least "
                   "1 characters)")
        if q.string_match.WhichOneof("match_pattern") == "safe_regex":
            problem = _regex(q.string_match.safe_regex)
            if problem:
                yield problem


def _action_problems(route: route_components_pb2.Route) -> Iterable[str]:
    if route.HasField("direct_response") and not 200 <= route.direct_response.status < 600:
        # Gloo copies directResponseAction.status (and invalidRouteResponseCode) without a range check.
        yield (f"{_PROTO_VALIDATION} (DirectResponseActionValidationError.Status: value must be inside range "
               "[200, 600))")
    if not route.HasField("route"):
        return
    action = route.route
    which = action.WhichOneof("cluster_specifier")
    if which is None:
        yield (f'{_PROTO_VALIDATION} (RouteValidationError.Route: caused by field: "cluster_specifier", reason: '
               "is required)")
    elif which == "cluster" and not action.cluster:
        yield f"{_PROTO_VALIDATION} (RouteActionValidationError.Cluster: value length must be at least 1 characters)"
    elif which == "weighted_clusters":
        clusters = action.weighted_clusters.clusters
        if not clusters:
            yield (f"{_PROTO_VALIDATION} (WeightedClusterValidationError.Clusters: value must contain at least 1 "
                   "item(s))")
        elif sum(c.weight.value for c in clusters) == 0:
            yield "Sum of weights in the weighted_cluster must be greater than 0."


def _routes(type_name: str, name: str, rc: route_pb2.RouteConfiguration) -> Iterable[EnvoyRejection]:
    for vh in rc.virtual_hosts:
        for i, route in enumerate(vh.routes):
            for reason in (*_match_problems(route.match), *_action_problems(route)):
                yield EnvoyRejection(type_name, name, vh.name, i, route.name, reason)


_CLUSTER_TYPES = {cluster_pb2.Cluster.STATIC: "envoy.cluster.static", cluster_pb2.Cluster.EDS: "envoy.cluster.eds"}


def _cluster_problems(cluster: cluster_pb2.Cluster) -> Iterable[str]:
    # Both measured with the pinned Envoy on shapes Gloo writes (tests/translate/test_envoy_accepts.py
    # test_gloo_cluster_shapes_envoy_1_40_refuses): the loadbalancer plugin's useHostnameForHashing on a static or
    # EDS cluster, and several health checks (ToEnvoyHealthCheck names none).
    if cluster.common_lb_config.consistent_hashing_lb_config.use_hostname_for_hashing and \
            cluster.WhichOneof("cluster_discovery_type") == "type" and cluster.type in _CLUSTER_TYPES:
        yield ("Cannot use hostname for consistent hashing loadbalancing for cluster of type: "
               f"'{_CLUSTER_TYPES[cluster.type]}'")
    if len(cluster.health_checks) > 1:
        yield ("health check at index 0 is missing a name; all health checks must have a name when multiple health "
               "checks are configured")


def predict_cluster_rejections(clusters: Iterable[cluster_pb2.Cluster]) -> list[EnvoyRejection]:
    """Clusters Envoy will refuse (one refuses the whole CDS update).

    Args:
        clusters: What the control plane serves over CDS.

    Returns:
        The rejections, in cluster order.
    """
    return [EnvoyRejection("Cluster", c.name, "", -1, "", reason) for c in clusters for reason in _cluster_problems(c)]


def predict_rejections(route_configurations: Iterable[route_pb2.RouteConfiguration],
                       listeners: Iterable[listener_pb2.Listener] = ()) -> list[EnvoyRejection]:
    """Every route Envoy will refuse, over RDS and in listeners' inline route configurations (LDS).

    The invalid-route fallback listener carries its own inline route configuration.

    Args:
        route_configurations: What the control plane serves over RDS.
        listeners: What it serves over LDS.

    Returns:
        The rejections, in route order.
    """
    out: list[EnvoyRejection] = []
    for rc in route_configurations:
        out.extend(_routes("RouteConfiguration", rc.name, rc))
    for listener in listeners:
        for chain in listener.filter_chains:
            for flt in chain.filters:
                if flt.typed_config.type_url != _HCM_TYPE:
                    continue
                hcm = hcm_pb2.HttpConnectionManager()
                if not flt.typed_config.Unpack(hcm) or not hcm.HasField("route_config"):
                    continue
                out.extend(_routes("Listener", listener.name, hcm.route_config))
    return out
