"""The store's durability contract: an acknowledged write survives restarts, a failed write leaves no trace,
the log stays compact, and the files are private."""

from __future__ import annotations

import datetime
import json
import os
import resource
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandboxkit import Kube, audit_writes, in_process_api

from gloo_nb.errors import GlooNbError
from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox import store as store_module
from gloo_nb.sandbox.statedir import private_dir
from gloo_nb.sandbox.store import ApiError, Store, WatchEvent

pytestmark = pytest.mark.sandbox


def configmap(name: str, ns: str = "echo", **data: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def names(store: Store, kind: k.Kind) -> list[str]:
    return [o["metadata"]["name"] for o in store.list(kind)[0]]


def log_records(state: Path) -> list[dict[str, Any]]:
    text = (state / "objects.jsonl").read_text()
    assert text.endswith("\n"), "the log ends with a complete record"
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    try:
        yield s
    finally:
        s.close()


def test_a_torn_last_record_is_cut_before_anything_is_appended(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    s.create(k.CONFIGMAP, configmap("before", a="1"))
    s.close()
    # A SIGKILL (or a full disk) in the middle of a large append leaves half a record.
    with open(tmp_path / "objects.jsonl", "a") as f:
        f.write('{"op":"put","rv":3,"o":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"na')
    with open(tmp_path / "audit.jsonl", "a") as f:
        f.write('{"time":"2024-')
    again = Store(tmp_path)
    acknowledged = again.create(k.CONFIGMAP, configmap("after", b="2"))
    again.close()
    third = Store(tmp_path)
    try:
        assert names(third, k.CONFIGMAP) == ["after", "before"], "a write acknowledged after the restart survives"
        assert third.get(k.CONFIGMAP, "echo", "after") == acknowledged
        assert int(third.resource_version) == int(acknowledged["metadata"]["resourceVersion"])
    finally:
        third.close()
    log_records(tmp_path)
    assert [a.name for a in audit_writes(tmp_path / "audit.jsonl")] == ["echo", "before", "after"]


def test_damage_in_the_middle_keeps_a_copy_and_the_good_prefix(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    s.create(k.CONFIGMAP, configmap("kept"))
    s.close()
    original = (tmp_path / "objects.jsonl").read_text()
    (tmp_path / "objects.jsonl").write_text(original + "garbage\n" + original.splitlines()[-1] + "\n")
    again = Store(tmp_path)
    try:
        assert names(again, k.CONFIGMAP) == ["kept"]
        assert (tmp_path / "objects.jsonl.damaged").read_text().count("garbage") == 1
    finally:
        again.close()


@pytest.mark.parametrize("where", ["create", "replace", "patch"])
def test_a_value_json_cannot_hold_is_refused_and_leaves_no_trace(persistent: Store, tmp_path: Path,
                                                                 where: str) -> None:
    # What PyYAML makes of an unquoted `2024-01-01` in a YAML body.
    released = datetime.date(2024, 1, 1)
    persistent.create(k.SERVICE, {"metadata": {"name": "echo", "namespace": "echo"},
                                  "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80}]}})
    events: list[WatchEvent] = []
    persistent.subscribe(events.append)
    rv = persistent.resource_version
    before = persistent.list(k.SERVICE)[0]
    log_before = (tmp_path / "objects.jsonl").read_bytes()
    with pytest.raises(ApiError) as err:
        if where == "create":
            persistent.create(k.SERVICE, {"metadata": {"name": "dated", "namespace": "echo"},
                                          "spec": {"ports": [{"port": 80, "name": released}]}})
        else:
            obj = persistent.get(k.SERVICE, "echo", "echo")
            obj["spec"]["ports"][0]["name"] = released
            if where == "replace":
                persistent.replace(k.SERVICE, obj)
            else:
                persistent.patch(k.SERVICE, "echo", "echo", lambda _old: obj)
    assert err.value.code == 400 and err.value.status()["kind"] == "Status"
    assert "spec.ports[0].name: Invalid value: 2024-01-01" in err.value.message
    assert "quote it" in err.value.message
    assert persistent.resource_version == rv and events == []
    assert persistent.list(k.SERVICE)[0] == before
    json.dumps(persistent.list(k.SERVICE)[0])  # what `kubectl get svc -A` needs
    assert (tmp_path / "objects.jsonl").read_bytes() == log_before
    audited = [a.name for a in audit_writes(tmp_path / "audit.jsonl")]
    assert "dated" not in audited and audited.count("echo") == 2  # the namespace, the service
    # Nothing in memory either in the store without a state dir.
    memory = Store()
    memory.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    with pytest.raises(ApiError):
        memory.create(k.CONFIGMAP, configmap("nan", x=float("nan")))
    assert names(memory, k.CONFIGMAP) == []


def test_a_write_the_disk_refuses_is_rolled_back(persistent: Store, tmp_path: Path) -> None:
    events: list[WatchEvent] = []
    persistent.subscribe(events.append)
    rv = persistent.resource_version
    size = (tmp_path / "objects.jsonl").stat().st_size
    # A real full disk for this process: the kernel writes up to the limit, then refuses (EFBIG).
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
    try:
        with pytest.raises(ApiError) as err:
            persistent.create(k.CONFIGMAP, configmap("big", blob="x" * 10_000))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert err.value.code == 500 and "could not save the write" in err.value.message
    assert persistent.resource_version == rv and events == [] and names(persistent, k.CONFIGMAP) == []
    assert (tmp_path / "objects.jsonl").stat().st_size == size, "the partial record is cut off again"
    later = persistent.create(k.CONFIGMAP, configmap("later"))
    assert int(later["metadata"]["resourceVersion"]) == int(rv) + 1
    assert log_records(tmp_path)[-1]["o"] == later, "on disk before the write is answered"
    persistent.close()
    again = Store(tmp_path)
    try:
        assert names(again, k.CONFIGMAP) == ["later"]
    finally:
        again.close()


def test_compaction_forgets_deleted_objects_and_keeps_resource_versions_growing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_COMPACT_SLACK", 50)
    s = Store(tmp_path)
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    s.create(k.SECRET, {"metadata": {"name": "token", "namespace": "echo"}, "data": {"t": "c2VjcmV0LXRva2Vu"}})
    s.create(k.CONFIGMAP, configmap("counter", n="0"))
    s.delete(k.SECRET, "echo", "token")
    for i in range(1, 120):
        s.patch(k.CONFIGMAP, "echo", "counter", lambda o, i=i: {**o, "data": {"n": str(i)}})
    # Compacted while running: the tail stays proportional to the live objects, the deleted Secret is gone.
    assert len(log_records(tmp_path)) < 2 * 3 + 50 + 2
    assert "c2VjcmV0LXRva2Vu" not in (tmp_path / "objects.jsonl").read_text()
    s.create(k.SECRET, {"metadata": {"name": "again", "namespace": "echo"}, "data": {"t": "c2VjcmV0LXRva2Vu"}})
    highest = int(s.delete(k.SECRET, "echo", "again")["metadata"]["resourceVersion"])
    s.close()
    assert "c2VjcmV0LXRva2Vu" in (tmp_path / "objects.jsonl").read_text()  # until the next compaction
    again = Store(tmp_path)
    try:
        # Compacted at start: a snapshot of the live objects only...
        records = log_records(tmp_path)
        assert "c2VjcmV0LXRva2Vu" not in (tmp_path / "objects.jsonl").read_text()
        assert [r["op"] for r in records] == ["rv", "put", "put"]
        assert again.get(k.CONFIGMAP, "echo", "counter")["data"] == {"n": "119"}
        # ...that still remembers the highest resourceVersion ever handed out (a deleted object's).
        created = again.create(k.CONFIGMAP, configmap("next"))
        assert int(created["metadata"]["resourceVersion"]) == highest + 1
    finally:
        again.close()
    assert not list(tmp_path.glob("*.tmp"))


def test_store_files_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    (state / "objects.jsonl").write_text("")
    (state / "objects.jsonl").chmod(0o644)
    old = os.umask(0o022)
    try:
        s = Store(state)
        s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
        s.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("objects.jsonl", "audit.jsonl"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name


def test_private_dir_tightens_an_existing_tree(tmp_path: Path) -> None:
    (tmp_path / "sb" / "pods" / "echo").mkdir(parents=True)
    (tmp_path / "sb" / "pods" / "echo" / "0.log").write_text("x")
    for p, mode in ((tmp_path / "sb", 0o755), (tmp_path / "sb" / "pods", 0o775),
                    (tmp_path / "sb" / "pods" / "echo" / "0.log", 0o644)):
        p.chmod(mode)
    (tmp_path / "elsewhere").write_text("not ours")
    (tmp_path / "elsewhere").chmod(0o644)
    (tmp_path / "sb" / "link").symlink_to(tmp_path / "elsewhere")
    private_dir(tmp_path / "sb")
    assert stat.S_IMODE((tmp_path / "sb").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "sb" / "pods").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "sb" / "pods" / "echo" / "0.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "elsewhere").stat().st_mode) == 0o644, "symlinks are not followed"
    private_dir(tmp_path / "new" / "sb")
    assert stat.S_IMODE((tmp_path / "new" / "sb").stat().st_mode) == 0o700


def test_an_unquoted_yaml_date_through_the_api_never_breaks_listing(tmp_path: Path) -> None:
    store = Store(tmp_path / "state")
    try:
        with in_process_api(store, tmp_path) as api:
            (tmp_path / "home").mkdir()
            kube = Kube(str(api.kubeconfig), tmp_path / "home")
            kube.run("create", "namespace", "team")
            body = (b"apiVersion: v1\nkind: Service\nmetadata: {name: dated, namespace: team}\n"
                    b"spec:\n  ports:\n  - port: 80\n    name: 2024-01-01\n")
            # As Kubernetes' YAML decoder (sigs.k8s.io/yaml: YAML to JSON), the date is the string it reads
            # as; the store's own refusal of values JSON cannot hold is tested above without the API.
            with api.urlopen("/api/v1/namespaces/team/services?fieldManager=kubectl", body, method="POST",
                             headers={"Content-Type": "application/yaml"}) as resp:
                assert resp.status == 201
            assert store.get(k.SERVICE, "team", "dated")["spec"]["ports"][0]["name"] == "2024-01-01"
            assert "dated" in kube.run("get", "svc", "-A").stdout
            assert "2024-01-01" in kube.run("get", "svc", "dated", "-n", "team", "-o", "yaml").stdout
            assert (tmp_path / "state" / "objects.jsonl").read_text().count("2024-01-01") == 1
    finally:
        store.close()


def test_an_unreadable_record_stops_the_start_and_loses_nothing(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    s.close()
    with open(tmp_path / "objects.jsonl", "a") as f:
        f.write('{"op":"put","rv":7,"o":{"apiVersion":"example.com/v1","kind":"Gone","metadata":{"name":"x"}}}\n')
    before = (tmp_path / "objects.jsonl").read_bytes()
    with pytest.raises(GlooNbError, match=r"objects.jsonl: line 3 is not an object record .* move the file away"):
        Store(tmp_path)
    assert (tmp_path / "objects.jsonl").read_bytes() == before
