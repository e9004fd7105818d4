"""The two-phase canary rollout: the plan, pure guards, proof maths and the sans-I/O step machine.

``plan()`` lives in :mod:`gloo_nb.rollout.plan` (not re-exported here, so that the name keeps
meaning the module).
"""

from gloo_nb.rollout.guards import Assessment, GuardResult, assess, check_guards, what_if_world
from gloo_nb.rollout.machine import RolloutMachine, RolloutStatus, StepPreview, StepStatus, verdict_for
from gloo_nb.rollout.plan import (
    Expectation,
    ManagedState,
    Plan,
    RolloutError,
    RolloutTarget,
    Step,
    diff_route_table,
)
from gloo_nb.rollout.proof import Verdict, judge, required_requests
from gloo_nb.rollout.signals import LatencySignal, SignalThresholds

__all__ = [
    "Assessment",
    "Expectation",
    "GuardResult",
    "LatencySignal",
    "ManagedState",
    "Plan",
    "RolloutError",
    "RolloutMachine",
    "RolloutStatus",
    "RolloutTarget",
    "SignalThresholds",
    "Step",
    "StepPreview",
    "StepStatus",
    "Verdict",
    "assess",
    "check_guards",
    "diff_route_table",
    "judge",
    "required_requests",
    "verdict_for",
    "what_if_world",
]
