"""The one exception tree of gloo_nb.

Findings about Gloo resources are data (see :class:`gloo_nb.models.Finding`), never exceptions.
These exceptions are raised only when the program cannot go on, and each says what to do next.
Catch a group to handle every error of one kind; ``gloo-nb`` maps the groups to exit codes at its
one boundary (``gloo_nb.cli.exit_code_for``)::

    GlooNbError                              anything gloo_nb raises on purpose
    ├── UsageError                           asked for something that cannot be done as asked   exit 2
    │   ├── NotebookError        (app.notebook)     a cell passed something unusable
    │   │   └── RunbookPause     (app.notebook)     Run All stops here on purpose: a person runs the runbook
    │   ├── RecorderError        (app.record)       bad poll interval, recorder reused, journal unopenable
    │   ├── XdsClientError       (xds.client)       bad xDS address, closed client
    │   ├── QueryError           (app.fleet)        DuckDB refused the SQL of a fleet query
    │   └── ApiError             (sandbox.apierror) the sandbox's API refuses a request (a Status)
    ├── UnreachableError                     something outside cannot be reached or started     exit 2
    │   ├── GatewayUnreachable   (app.connect)      a part of the gateway (xDS, admin, pods)
    │   ├── KubeError            (kube.client)      the Kubernetes API refused or failed
    │   │   ├── PortForwardError (kube.portforward)
    │   │   └── ConflictError    (kube.client)      409: also a RolloutConflict
    │   ├── EnvoyAdminError      (xds.admin)        an Envoy admin API
    │   ├── SandboxError         (sandbox.runner)   a sandbox cannot be started, stopped or reached
    │   ├── EnvoyError           (sandbox.envoy)    a sandbox Envoy replica does not start
    │   ├── XdsServerError       (sandbox.xds_server)  the sandbox's ADS server cannot listen
    │   └── DialError            (sandbox.portforward) a pod's port does not answer
    ├── BadDataError                         input that cannot be read                          exit 2
    │   ├── ParseError                              a document (file, document index, field)
    │   ├── BundleError          (app.snapshot)     a snapshot bundle
    │   ├── JournalError         (journal.events)   a journal file or event
    │   ├── DatasetError         (journal.dataset)  a fleet dataset (no dataset at a folder, unwritable)
    │   ├── AccessLogError       (models.access_log) an Envoy access log, its format or a Gateway's loggers
    │   ├── PrometheusError      (models.prometheus) a saved Prometheus query answer
    │   ├── AuditError           (models.audit)     a Kubernetes audit log (not audit.k8s.io/v1 Events)
    │   ├── SelectionError       (translate.selection) a bad route-table selector (Gloo's warning;
    │                                               the translator turns it into a finding)
    │   ├── VirtualServiceAborted (translate.gateway) Gloo 1.3 drops a whole VirtualService (a finding too)
    │   ├── VolumeError          (sandbox.pod_volumes) a pod volume cannot be set up (a FailedMount Event)
    │   ├── _HostProblem         (translate.tcp) a TCP host gets no filter chain (Gloo's warning/error)
    │   ├── _Unreadable          (translate.route_options) an option value Gloo cannot read (a finding)
    │   ├── _GlooError           (translate.route_options) an option Gloo's plugin refuses (its error)
    │   └── _Problem             (models.codec._yaml_events) inside a YAML loader (becomes a ParseError)
    └── RolloutError                         the rollout cannot be planned or go on             exit 2
        ├── RolloutStopped       (app.rollout)      a step cannot be run (dry run, no gateway URL...)
        │   └── ForeignJournal   (app.rollout)      the journal is another cluster's or object's
        └── RolloutConflict                         another writer changed the object             exit 3
            └── ConflictError    (kube.client)

Outside the tree on purpose: the modules that run in a pod's process (``python -I -S workloads.py``), which
import only the standard library: ``sandbox.workloads.WorkloadExit``, and exec's shell and commands, which
workloads.py loads for containers that run their command: ``sandbox.pod_exec_shell`` (``ShellSyntaxError``,
``ShellRefusal`` and the control flow ``_Exit``, ``_Break``, ``_Fail``) and ``sandbox.pod_exec_tools``
(``_OptError``, ``_TestError``, ``_ExprError``). None leaves the sandbox: each ends as an exit code or one line
of stderr.

Guard and proof failures are outcomes of a step (``StepReport.outcome``), not exceptions: a
rollout that stops on them is reported, and ``gloo-nb rollout`` exits 1.
"""

from __future__ import annotations

__all__ = ["BadDataError", "GlooNbError", "ParseError", "RolloutConflict", "RolloutError", "UnreachableError",
           "UsageError"]


class GlooNbError(Exception):
    """Base class of every error gloo_nb raises on purpose."""


class UsageError(GlooNbError):
    """A caller asked for something that cannot be done as asked (bad option, unknown profile)."""


class UnreachableError(GlooNbError):
    """Something outside gloo_nb cannot be reached or started: Kubernetes, xDS, an Envoy admin, a port-forward.

    The message names the address or object and what to check (is it running, is the port right,
    does the identity have the permission).
    """


class BadDataError(GlooNbError):
    """Input cannot be read at all: a manifest document, a snapshot bundle, a journal."""


class RolloutError(GlooNbError):
    """The rollout cannot be planned, resumed or continued as asked (no default route, a foreign header route...)."""


class RolloutConflict(RolloutError):
    """Another writer changed the object the rollout writes: re-read it and decide before going on."""


class ParseError(BadDataError):
    """A document cannot be read at all (bad YAML, wrong type for a known field, missing name).

    Attributes:
        file: The file the document came from (``-`` for stdin, ``<object>`` for live objects).
        document: Zero-based index of the document in the file's stream, or None.
        field: Dotted path of the offending field, or None when the whole document is unreadable.
        problem: What is wrong, in words.
    """

    def __init__(self, problem: str, *, file: str = "<input>", document: int | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.document = document
        self.field = field
        self.problem = problem
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return the error as one line naming file, document and field.

        Returns:
            The message, e.g. ``vs.yaml: document 2: field spec.virtualHost.routes[0]: expected a list``.
        """
        parts = [self.file]
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.field:
            parts.append(f"field {self.field}")
        return ": ".join(parts) + f": {self.problem}"

