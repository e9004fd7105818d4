"""Pure Gloo semantics: resources -> reports, findings, the Proxy and Envoy v3 messages."""

from gloo_nb.translate.reports import ResourceReport, Reports
from gloo_nb.translate.translator import PushDecision, Translation, Translator, translate

__all__ = ["PushDecision", "Reports", "ResourceReport", "Translation", "Translator", "translate"]
