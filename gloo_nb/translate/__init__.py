"""Pure Gloo semantics: resources -> reports, findings, the Proxy and Envoy v3 messages."""

from gloo_nb.translate.compare import Comparison, compare
from gloo_nb.translate.reports import Reports, ResourceReport
from gloo_nb.translate.translator import PushDecision, Translation, Translator, translate

__all__ = ["Comparison", "PushDecision", "Reports", "ResourceReport", "Translation", "Translator", "compare",
           "translate"]
