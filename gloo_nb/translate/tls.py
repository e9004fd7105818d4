"""Gloo's TLS: ``sslConfig`` (VirtualService, Upstream) -> Envoy TLS contexts, with Gloo's errors.

Sources (CUR = Gloo main at 8d57572e, 1.3 = v1.3.20):

* ``projects/gloo/pkg/utils/ssl.go`` (both): ``ResolveDownstreamSslConfig``, ``ResolveUpstreamSslConfig``,
  ``ResolveCommonSslConfig``, ``getSslSecrets``, ``cleanedSslKeyPair`` (CUR only), the error texts.
* ``projects/gloo/pkg/translator/ssl_configuration.go:ConsolidateSslConfigurations`` (CUR) and
  ``translator/listener.go:mergeSslConfigs`` (1.3): one filter chain per distinct SSL config.
* ``projects/gloo/pkg/api/converters/kube/secretconverter.go``: which Secret fields Gloo reads.

Gloo open source inlines the secret's certificates into the TLS context (``inline_string``); the
context therefore holds key material, and gloo_nb never prints it (:mod:`gloo_nb.translate.envoy_json`
redacts it). SDS (``sslConfig.sds``) is not modelled: gloo_nb declares it (``Translation.unmodelled``).

Secrets gloo_nb cannot see are not Gloo's missing secrets. A *redacted* Secret (known by its facts: a
snapshot bundle, a journal) is present, with the validity recorded when its data was read
(:class:`gloo_nb.models.TlsFacts`): Gloo's errors come out exactly as from the data, and the TLS context
holds placeholders (:data:`PLACEHOLDER_PREFIXES`: the certificate's one-line summary, ``<redacted>`` for
the key). A Secret gloo_nb could not read at all (no permission to list Secrets: ``Snapshot.secrets_unreadable``,
or a redacted Secret recorded without facts) is assumed valid: the chain is still built, with
``<redacted: ...>`` placeholders, and :func:`unseen_secret_warning` says which checks were not made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, tls_pb2

from gloo_nb._types import Profile
from gloo_nb.models import ResourceRef, Secret
from gloo_nb.models.certs import key_pair_problem

__all__ = [
    "PLACEHOLDER_PREFIXES",
    "SSL_SECRET_NOT_FOUND",
    "TLS_TRANSPORT_SOCKET",
    "SslConfig",
    "TlsError",
    "consolidate",
    "downstream_tls_context",
    "parse_ssl_config",
    "unseen_secret_warning",
    "upstream_tls_context",
]

TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls"  # wellknown.TransportSocketTls
SSL_SECRET_NOT_FOUND = "SSL secret not found"  # utils.SslSecretNotFoundError
ALLOW_EMPTY = "allow_empty"  # projects/gloo/constants/values.go:AllowEmpty
_DEFAULT_ALPN = ("h2", "http/1.1")
_REDACTED = "<redacted>"  # the same text as gloo_nb.journal.redact.REDACTED and envoy_json.REDACTED
PLACEHOLDER_PREFIXES = ("<certificate sha256:", "<redacted")
"""How a placeholder for key material gloo_nb does not hold starts (a certificate summary, ``<redacted...>``)."""
_PROTOCOLS = ("TLS_AUTO", "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3")
_OCSP = ("LENIENT_STAPLING", "STRICT_STAPLING", "MUST_STAPLE")


@dataclass(frozen=True, slots=True)
class SslConfig:
    """An ``SslConfig`` (downstream) or ``UpstreamSslConfig`` read from its YAML (``ssl.proto``).

    Attributes:
        raw: The block as written (secret references and file paths only, never key material).
        secret_ref: ``secretRef``.
        ssl_files: ``sslFiles`` (``tlsCert``, ``tlsKey``, ``rootCa``, ``ocspStaple``: file paths).
        sds: ``sds``, kept raw (not modelled).
        sni_domains: ``sniDomains`` (downstream).
        sni: ``sni`` (upstream).
        verify_subject_alt_name: ``verifySubjectAltName``.
        parameters: ``parameters`` (``minimumProtocolVersion``, ``maximumProtocolVersion``,
            ``cipherSuites``, ``ecdhCurves``); None when unset.
        alpn_protocols: ``alpnProtocols``.
        one_way_tls: ``oneWayTls``; None when unset.
        ocsp_staple_policy: ``ocspStaplePolicy`` enum name.
        disable_tls_session_resumption: ``disableTlsSessionResumption``.
        allow_renegotiation: ``allowRenegotiation`` (upstream).
        transport_socket_connect_timeout: ``transportSocketConnectTimeout`` (a Duration string).
        problems: What could not be read, one line each (field path and why).
    """

    raw: Mapping[str, Any]
    secret_ref: ResourceRef | None = None
    ssl_files: Mapping[str, str] | None = None
    sds: Mapping[str, Any] | None = None
    sni_domains: tuple[str, ...] = ()
    sni: str = ""
    verify_subject_alt_name: tuple[str, ...] = ()
    parameters: Mapping[str, Any] | None = None
    alpn_protocols: tuple[str, ...] = ()
    one_way_tls: bool | None = None
    ocsp_staple_policy: str = "LENIENT_STAPLING"
    disable_tls_session_resumption: bool = False
    allow_renegotiation: bool = False
    transport_socket_connect_timeout: str | None = None
    problems: tuple[str, ...] = field(default=())

    def without_sni(self) -> str:
        """A canonical text of everything but the SNI domains (the key Gloo groups filter chains by)."""
        rest = {k: v for k, v in self.raw.items() if k not in ("sniDomains", "sni_domains")}
        return json.dumps(rest, sort_keys=True, default=str)


def _strings(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    problems.append(f"{where}: expected a list of strings")
    return ()


def _bool(value: Any, where: str, problems: list[str]) -> bool | None:
    if isinstance(value, Mapping):  # BoolValue written as {value: true}
        value = value.get("value", False)
    if value is None or isinstance(value, bool):
        return value
    problems.append(f"{where}: expected a boolean")
    return None


def parse_ssl_config(raw: Mapping[str, Any], where: str = "sslConfig") -> SslConfig:
    """Read an ``sslConfig`` block (both the downstream and the upstream message).

    Args:
        raw: The block as written.
        where: Its field path, for problems.

    Returns:
        The config; ``problems`` lists what could not be read.
    """
    problems: list[str] = []

    def get(name: str, snake: str | None = None) -> Any:
        return raw.get(name, raw.get(snake) if snake else None)

    secret_ref = None
    ref = get("secretRef", "secret_ref")
    if ref is not None:
        if isinstance(ref, Mapping) and isinstance(ref.get("name", ""), str) and isinstance(
                ref.get("namespace", ""), str):
            secret_ref = ResourceRef(ref.get("name") or "", ref.get("namespace") or "")
        else:
            problems.append(f"{where}.secretRef: expected {{name, namespace}}")
    files = get("sslFiles", "ssl_files")
    ssl_files = None
    if files is not None:
        if isinstance(files, Mapping) and all(isinstance(v, str) for v in files.values()):
            norm = {"tls_cert": "tlsCert", "tls_key": "tlsKey", "root_ca": "rootCa", "ocsp_staple": "ocspStaple"}
            ssl_files = {norm.get(str(k), str(k)): str(v) for k, v in files.items()}
        else:
            problems.append(f"{where}.sslFiles: expected tlsCert, tlsKey, rootCa (file paths)")
    sds = get("sds")
    set_secrets = [n for n, v in (("secretRef", ref), ("sslFiles", files), ("sds", sds)) if v is not None]
    if len(set_secrets) > 1:
        problems.append(f"{where}: {', '.join(set_secrets)} are one oneof (sslSecrets): set only one")
    params = get("parameters")
    if params is not None and not isinstance(params, Mapping):
        problems.append(f"{where}.parameters: expected an object")
        params = None
    if params is not None:
        for name in ("cipherSuites", "ecdhCurves"):
            _strings(params.get(name), f"{where}.parameters.{name}", problems)
        for name in ("minimumProtocolVersion", "maximumProtocolVersion"):
            v = params.get(name)
            if v is not None and v not in _PROTOCOLS:
                problems.append(f"{where}.parameters.{name}: expected one of {', '.join(_PROTOCOLS)}")
    ocsp = get("ocspStaplePolicy", "ocsp_staple_policy")
    if ocsp is not None and ocsp not in _OCSP:
        problems.append(f"{where}.ocspStaplePolicy: expected one of {', '.join(_OCSP)}")
        ocsp = None
    timeout = get("transportSocketConnectTimeout", "transport_socket_connect_timeout")
    return SslConfig(
        raw=raw, secret_ref=secret_ref, ssl_files=ssl_files, sds=sds if isinstance(sds, Mapping) else None,
        sni_domains=_strings(get("sniDomains", "sni_domains"), f"{where}.sniDomains", problems),
        sni=get("sni") if isinstance(get("sni"), str) else "",
        verify_subject_alt_name=_strings(get("verifySubjectAltName", "verify_subject_alt_name"),
                                         f"{where}.verifySubjectAltName", problems),
        parameters=params,
        alpn_protocols=_strings(get("alpnProtocols", "alpn_protocols"), f"{where}.alpnProtocols", problems),
        one_way_tls=_bool(get("oneWayTls", "one_way_tls"), f"{where}.oneWayTls", problems),
        ocsp_staple_policy=ocsp or "LENIENT_STAPLING",
        disable_tls_session_resumption=bool(_bool(get("disableTlsSessionResumption"),
                                                  f"{where}.disableTlsSessionResumption", problems)),
        allow_renegotiation=bool(_bool(get("allowRenegotiation"), f"{where}.allowRenegotiation", problems)),
        transport_socket_connect_timeout=timeout if isinstance(timeout, str) else None,
        problems=tuple(problems),
    )


NOT_IN_13 = ("oneWayTls", "ocspStaplePolicy", "disableTlsSessionResumption", "transportSocketConnectTimeout",
             "allowRenegotiation")
"""sslConfig fields that Gloo 1.3's ``ssl.proto`` (projects/gloo/api/v1/ssl.proto@v1.3.20) did not have."""


def profile_problems(cfg: SslConfig, profile: Profile, where: str = "sslConfig") -> list[str]:
    """What a profile cannot read in a config (fields its Gloo did not have).

    Args:
        cfg: The config.
        profile: Behaviour profile.
        where: Field path for the messages.

    Returns:
        One line per field, empty for ``current``.
    """
    if profile != "1.3":
        return []
    return [f"{where}.{name}: not a field of Gloo 1.3's SslConfig; gloo_nb ignores it for this profile"
            for name in NOT_IN_13 if name in cfg.raw]


def consolidate(configs: Sequence[SslConfig], profile: Profile) -> list[SslConfig]:
    """Group SSL configs that differ only by SNI domains, as Gloo does before building filter chains.

    CUR (``ConsolidateSslConfigurations``): configs equal but for ``sniDomains`` merge; their SNI
    domains are unioned without duplicates, and an empty list on either side means "match every
    name" (the merged config has none). 1.3 (``mergeSslConfigs``): configs merge when their
    ``secretRef`` (or ``sslFiles``) and sorted ``verifySubjectAltName`` agree, whatever else differs
    (the first config's other fields win); SNI domains are appended, duplicates kept; configs with
    neither (SDS) are never merged. Order: first appearance.

    Args:
        configs: The listener's SSL configs, in virtual-service order.
        profile: Behaviour profile.

    Returns:
        The merged configs.
    """
    result: list[SslConfig] = []
    by_key: dict[str, int] = {}
    for cfg in configs:
        if profile == "1.3":
            if cfg.secret_ref is not None:
                key = f"{cfg.secret_ref.name},{cfg.secret_ref.namespace}"
            elif cfg.ssl_files is not None:
                f = cfg.ssl_files
                key = f"{f.get('tlsCert', '')},{f.get('tlsKey', '')},{f.get('rootCa', '')}"
            else:
                result.append(cfg)
                continue
            key += ";" + ",".join(sorted(cfg.verify_subject_alt_name))
        else:
            key = cfg.without_sni()
        if key not in by_key:
            by_key[key] = len(result)
            result.append(cfg)
            continue
        i = by_key[key]
        first = result[i]
        if not first.sni_domains or not cfg.sni_domains:
            sni: tuple[str, ...] = ()
        elif profile == "1.3":
            sni = first.sni_domains + cfg.sni_domains
        else:
            sni = first.sni_domains + tuple(d for d in dict.fromkeys(cfg.sni_domains) if d not in first.sni_domains)
        result[i] = _with_sni(first, sni)
    return result


def _with_sni(cfg: SslConfig, sni: tuple[str, ...]) -> SslConfig:
    raw = dict(cfg.raw)
    raw["sniDomains"] = list(sni)
    return SslConfig(**{**{f: getattr(cfg, f) for f in SslConfig.__dataclass_fields__}, "raw": raw,
                        "sni_domains": sni})


@dataclass(frozen=True, slots=True)
class TlsError:
    """Why Gloo could not build a TLS context.

    Attributes:
        message: Gloo's error text.
        missing_secret: Whether it is ``SSL secret not found`` (current Gloo's ``warnMissingTlsSecret``
            turns that one into a warning).
        unmodelled: Not Gloo's error but gloo_nb's: the config uses something gloo_nb does not model.
    """

    message: str
    missing_secret: bool = False
    unmodelled: bool = False


def _ref_text(ref: ResourceRef, profile: Profile) -> str:
    # %v of solo-kit's ResourceRef: 1.3 printed the gogo struct value, CUR prints the proto message.
    if profile == "1.3":
        return f"{{{ref.name} {ref.namespace}}}"
    return f'name:"{ref.name}" namespace:"{ref.namespace}"'


def _find_secret(ref: ResourceRef, secrets: Sequence[Secret], profile: Profile) -> Secret | None:
    for s in secrets:
        if s.meta.name != ref.name:
            continue
        # SecretList.Find: 1.3 matched any namespace when the ref has none; CUR needs an exact match.
        if s.meta.namespace == ref.namespace or (profile == "1.3" and not ref.namespace):
            return s
    return None


def _is_gloo_secret(secret: Secret, profile: Profile) -> bool:
    # Whether Gloo's secret converters turn this Secret into some Gloo secret at all (it is then "not a
    # TLS secret" rather than "not found"). CUR: HeaderSecretConverter takes any Opaque secret with data
    # (secretconverter.go, "needs to run last"); 1.3: solo-kit's client took secrets annotated
    # resource_kind: '*v1.Secret'.
    if secret.shape:
        return True
    if profile == "1.3":
        return secret.meta.annotations.get("resource_kind") == "*v1.Secret"
    return secret.type == "Opaque" and bool(secret.data_keys)


def _clean_chain(pem: str) -> str:
    # cleanedSslKeyPair (CUR): the chain is parsed and re-encoded (cert.EncodeCertificates).
    out = []
    for block in pem.split("-----END CERTIFICATE-----"):
        start = block.find("-----BEGIN CERTIFICATE-----")
        if start < 0:
            continue
        try:
            cert = x509.load_pem_x509_certificate((block[start:] + "-----END CERTIFICATE-----").encode())
        except ValueError:
            continue
        out.append(cert.public_bytes(serialization.Encoding.PEM).decode())
    return "".join(out)


@dataclass(slots=True)
class _Material:
    cert_chain: str = ""
    private_key: str = ""
    root_ca: str = ""
    ocsp: bytes = b""
    ocsp_file: str = ""
    inline: bool = False
    placeholder: bool = False


def _unseen_reason(cfg: SslConfig, secrets: Sequence[Secret], profile: Profile,
                   secrets_unreadable: str) -> str | None:
    # Why the Secret a secretRef names is invisible to gloo_nb (None: gloo_nb sees it, or sees it is absent).
    ref = cfg.secret_ref
    if ref is None or cfg.sds is not None:
        return None
    secret = _find_secret(ref, secrets, profile)
    if secret is None:
        return secrets_unreadable or None
    if secret.redacted and secret.shape and secret.facts is None:
        return f"Secret {secret.meta.namespace}.{secret.meta.name} was recorded without its facts"
    return None


def unseen_secret_warning(cfg: SslConfig, secrets: Sequence[Secret], profile: Profile,
                          secrets_unreadable: str = "") -> str | None:
    """gloo_nb's warning when it cannot see the Secret an sslConfig names (and so assumes Gloo accepts it).

    Args:
        cfg: The sslConfig.
        secrets: The snapshot's Secrets.
        profile: Behaviour profile.
        secrets_unreadable: ``Snapshot.secrets_unreadable``: why Secrets could not be listed (``""``: they could).

    Returns:
        ``cannot read Secrets (<reason>): the TLS checks Gloo makes on secret <ns>.<name> were not made``, or
        None when gloo_nb sees the Secret (or sees that it is absent: then Gloo's own error applies).
    """
    reason = _unseen_reason(cfg, secrets, profile, secrets_unreadable)
    if reason is None or cfg.secret_ref is None:
        return None
    ref = cfg.secret_ref
    return (f"cannot read Secrets ({reason}): the TLS checks Gloo makes on secret {ref.namespace}.{ref.name} "
            "were not made")


def _unseen_material(cfg: SslConfig) -> _Material:
    # A Secret gloo_nb cannot read: assume Gloo accepts it (a certificate and key), with a root CA only where
    # the config needs one to be valid (verifySubjectAltName); the served configuration tells the rest.
    ref = cfg.secret_ref
    name = f"{ref.namespace}.{ref.name}" if ref is not None else "?"
    text = f"<redacted: secret {name} not readable by gloo_nb>"
    return _Material(text, _REDACTED, text if cfg.verify_subject_alt_name else "", inline=True, placeholder=True)


def _redacted_material(secret: Secret, profile: Profile) -> _Material | TlsError:
    # A Secret known by its facts: Gloo's checks replayed from what was recorded when the data was at hand.
    facts = secret.facts
    assert facts is not None
    name = f"{secret.meta.namespace}.{secret.meta.name}"
    m = _Material(inline=True, placeholder=True)
    if facts.cert_chain:
        m.cert_chain = secret.certificate.summary() if secret.certificate else f"<redacted: certificate of {name}>"
    if facts.private_key:
        m.private_key = _REDACTED
    if facts.root_ca:
        m.root_ca = (secret.ca_certificate.summary() if secret.ca_certificate
                     else f"<redacted: root CA of {name}>")
    if facts.ocsp_staple:
        m.ocsp = _REDACTED.encode()
    if profile == "1.3" and secret.shape == "kubernetes.io/tls":
        # secretconverter.go@v1.3.20 read only tls.crt and tls.key.
        m.root_ca, m.ocsp = "", b""
    if profile != "1.3" and facts.key_pair_problem is not None:
        # ssl.go:cleanedSslKeyPair (CUR), its verdict recorded with the data (TlsSecret.facts)
        ref_text = _ref_text(ResourceRef(secret.meta.name, secret.meta.namespace), profile)
        return TlsError(f"{ref_text} is not a valid TLS secret: {facts.key_pair_problem}")
    return m


def _material(cfg: SslConfig, secrets: Sequence[Secret], profile: Profile,
              secrets_unreadable: str = "") -> _Material | TlsError | None:
    if cfg.secret_ref is not None:
        ref = cfg.secret_ref
        if _unseen_reason(cfg, secrets, profile, secrets_unreadable) is not None:
            return _unseen_material(cfg)
        secret = _find_secret(ref, secrets, profile)
        if secret is None or not _is_gloo_secret(secret, profile):
            return TlsError(f"{SSL_SECRET_NOT_FOUND}: list did not find secret {ref.namespace}.{ref.name}", True)
        if secret.redacted and secret.shape:
            return _redacted_material(secret, profile)
        if secret.tls is None:
            return TlsError(f"{_ref_text(ResourceRef(secret.meta.name, secret.meta.namespace), profile)} "
                            f"is not a TLS secret")
        tls = secret.tls
        m = _Material(tls.cert_chain, tls.private_key, tls.root_ca, tls.ocsp_staple, inline=True)
        if profile == "1.3" and secret.shape == "kubernetes.io/tls":
            # secretconverter.go@v1.3.20 read only tls.crt and tls.key.
            m.root_ca, m.ocsp = "", b""
        if profile != "1.3":
            problem = _key_pair(m)
            if problem is not None:
                ref_text = _ref_text(ResourceRef(secret.meta.name, secret.meta.namespace), profile)
                return TlsError(f"{ref_text} is not a valid TLS secret: {problem}")
            if m.cert_chain:
                m.cert_chain = _clean_chain(m.cert_chain)
        return m
    if cfg.ssl_files is not None:
        f = cfg.ssl_files
        m = _Material(f.get("tlsCert", ""), f.get("tlsKey", ""), f.get("rootCa", ""),
                      ocsp_file=f.get("ocspStaple", "") if profile != "1.3" else "")
        if profile != "1.3":
            # ssl.go (CUR) runs cleanedSslKeyPair on the sslFiles strings themselves (file paths), so
            # a certificate given by path fails here unless only rootCa is set.
            problem = _key_pair(m)
            if problem is not None:
                return TlsError(f"Invalid TLS secret: {problem}")
        return m
    return None


def _key_pair(m: _Material) -> str | None:
    if not m.cert_chain and not m.private_key and m.root_ca:
        return None
    return key_pair_problem(m.cert_chain, m.private_key)


def _data_source(value: str, inline: bool) -> base_pb2.DataSource:
    return base_pb2.DataSource(inline_string=value) if inline else base_pb2.DataSource(filename=value)


def _common(cfg: SslConfig, secrets: Sequence[Secret], profile: Profile,
            must_have_cert: bool, secrets_unreadable: str = "") -> tls_pb2.CommonTlsContext | TlsError:
    # ResolveCommonSslConfig.
    if cfg.sds is not None:
        return TlsError("sslConfig.sds is not modelled by gloo_nb (Gloo points Envoy at an SDS server for it); "
                        "gloo_nb emits no TLS context for this config", unmodelled=True)
    material = _material(cfg, secrets, profile, secrets_unreadable)
    if isinstance(material, TlsError):
        return material
    if material is None:
        # 1.3 required a certificate source for upstreams too; CUR only downstream (mustHaveCert).
        if must_have_cert or profile == "1.3":
            return TlsError("no certificate information found")
        material = _Material()
    if must_have_cert and profile != "1.3" and (not material.cert_chain or not material.private_key):
        return TlsError("no certificate information found")
    out = tls_pb2.CommonTlsContext()
    if material.cert_chain and material.private_key:
        tc = out.tls_certificates.add()
        tc.certificate_chain.CopyFrom(_data_source(material.cert_chain, material.inline))
        tc.private_key.CopyFrom(_data_source(material.private_key, material.inline))
        if material.ocsp_file:
            tc.ocsp_staple.CopyFrom(_data_source(material.ocsp_file, material.inline))
        elif material.ocsp:
            tc.ocsp_staple.inline_bytes = material.ocsp
    elif material.cert_chain or material.private_key:
        return TlsError("both or none of cert chain and private key must be provided")
    if material.root_ca:
        vc = out.validation_context
        vc.trusted_ca.CopyFrom(_data_source(material.root_ca, material.inline))
        for san in cfg.verify_subject_alt_name:
            # VerifySanListToMatchSanList (CUR: StringMatcher exact); 1.3's verify_subject_alt_name
            # field no longer exists in Envoy v3, match_subject_alt_names is its v3 spelling.
            vc.match_subject_alt_names.add(exact=san)
    elif cfg.verify_subject_alt_name:
        return TlsError("a root_ca must be provided if verify_subject_alt_name is not empty")
    params = cfg.parameters
    if params is not None:
        tp = out.tls_params
        tp.SetInParent()
        tp.cipher_suites.extend(_strings(params.get("cipherSuites", params.get("cipher_suites")), "", []))
        tp.ecdh_curves.extend(_strings(params.get("ecdhCurves", params.get("ecdh_curves")), "", []))
        # an unknown name was reported by parse_ssl_config (Gloo cannot even read it); TLS_AUTO stands in
        high, low = params.get("maximumProtocolVersion"), params.get("minimumProtocolVersion")
        tp.tls_maximum_protocol_version = common_pb2.TlsParameters.TlsProtocol.Value(
            high if high in _PROTOCOLS else "TLS_AUTO")
        tp.tls_minimum_protocol_version = common_pb2.TlsParameters.TlsProtocol.Value(
            low if low in _PROTOCOLS else "TLS_AUTO")
    out.alpn_protocols.extend(cfg.alpn_protocols)
    return out


def downstream_tls_context(cfg: SslConfig, secrets: Sequence[Secret], profile: Profile, *,
                           secrets_unreadable: str = "") -> tls_pb2.DownstreamTlsContext | TlsError:
    """``ResolveDownstreamSslConfig``: a VirtualService's sslConfig as Envoy's DownstreamTlsContext.

    Args:
        cfg: The (consolidated) config.
        secrets: The snapshot's Secrets.
        profile: Behaviour profile.
        secrets_unreadable: Why Secrets could not be listed (``Snapshot.secrets_unreadable``).

    Returns:
        The context (certificates inlined from the Secret, as Gloo does; placeholders for a Secret known
        by its facts or not readable), or Gloo's error.
    """
    common = _common(cfg, secrets, profile, must_have_cert=True, secrets_unreadable=secrets_unreadable)
    if isinstance(common, TlsError):
        return common
    out = tls_pb2.DownstreamTlsContext()
    has_validation = common.HasField("validation_context")
    if has_validation:
        if profile == "1.3":
            out.require_client_certificate.value = True
        else:
            out.require_client_certificate.value = not cfg.one_way_tls
            if cfg.one_way_tls:
                # CUR: a validation context would make Envoy ask for a client certificate anyway.
                common.ClearField("validation_context")
    if not common.alpn_protocols:
        common.alpn_protocols.extend(_DEFAULT_ALPN)
    elif profile != "1.3" and list(common.alpn_protocols) == [ALLOW_EMPTY]:
        del common.alpn_protocols[:]
    out.common_tls_context.CopyFrom(common)
    if profile != "1.3":
        if cfg.disable_tls_session_resumption:
            out.disable_stateless_session_resumption = True
        out.ocsp_staple_policy = tls_pb2.DownstreamTlsContext.OcspStaplePolicy.Value(cfg.ocsp_staple_policy)
    return out


def upstream_tls_context(cfg: SslConfig, secrets: Sequence[Secret], profile: Profile, *,
                         secrets_unreadable: str = "") -> tls_pb2.UpstreamTlsContext | TlsError:
    """``ResolveUpstreamSslConfig``: an Upstream's sslConfig as Envoy's UpstreamTlsContext.

    Args:
        cfg: The Upstream's sslConfig.
        secrets: The snapshot's Secrets.
        profile: Behaviour profile.
        secrets_unreadable: Why Secrets could not be listed (``Snapshot.secrets_unreadable``).

    Returns:
        The context, or Gloo's error.
    """
    common = _common(cfg, secrets, profile, must_have_cert=False, secrets_unreadable=secrets_unreadable)
    if isinstance(common, TlsError):
        return common
    if profile != "1.3" and cfg.sds is None and cfg.one_way_tls:
        # CUR: one-way TLS keeps the validation context and drops the client certificate.
        del common.tls_certificates[:]
    out = tls_pb2.UpstreamTlsContext(sni=cfg.sni)
    out.common_tls_context.CopyFrom(common)
    if profile != "1.3" and cfg.allow_renegotiation:
        out.allow_renegotiation = True
    return out
