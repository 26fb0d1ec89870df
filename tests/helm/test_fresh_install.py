"""A fresh ``helm install`` with the examples, on an API server that has never
seen the CRDs, and a second release beside it (the real kube-apiserver).

The API server is shared: the real ``fixplus.io`` CRDs are in use by other
tests and may not be deleted.  So the chart is copied and its CRDs renamed
to a group and kinds of this test alone (``t<hex>.fixplus.test``,
``FixSessionT<hex>``, ...), the example resources with them: the API server
has then truly never heard of them, as a new cluster has never heard of
``fixplus.io``.  Everything else is the chart as it is.  The renamed CRDs
are deleted at the end.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests import kubeclean
from tests.helm.conftest import CHART, Helm, Kube

pytestmark = pytest.mark.integration

KINDS = ("FixSession", "FixCluster", "MessageStore")


def _renamed_chart(tmp: Path, group: str, suffix: str) -> tuple[Path, list[str]]:
    chart = tmp / "pyfixmsg-plus"
    shutil.copytree(CHART, chart)
    names = []
    for path in sorted((chart / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec_names = crd["spec"]["names"]
        kind = spec_names["kind"] + suffix.upper()
        spec_names.update({"kind": kind, "listKind": f"{kind}List", "plural": kind.lower(),
                           "singular": kind.lower()})
        spec_names.pop("shortNames", None)
        spec_names.pop("categories", None)
        crd["spec"]["group"] = group
        crd["metadata"]["name"] = f"{kind.lower()}.{group}"
        names.append(crd["metadata"]["name"])
        path.write_text(yaml.safe_dump(crd))
    examples = chart / "templates" / "examples.yaml"
    text = examples.read_text().replace("apiVersion: fixplus.io/v1alpha1",
                                        f"apiVersion: {group}/v1alpha1")
    for kind in KINDS:
        text = re.sub(rf"^kind: {kind}$", f"kind: {kind}{suffix.upper()}", text,
                      flags=re.MULTILINE)
    examples.write_text(text)
    return chart, names


@pytest.fixture()
def renamed(kube: Kube, tmp_path: Path) -> Iterator[tuple[Path, str, str, list[str]]]:
    suffix = f"t{uuid.uuid4().hex[:6]}"
    group = f"{suffix}.fixplus.test"
    chart, crds = _renamed_chart(tmp_path, group, suffix)
    namespaces = [f"fixplus-fresh-{suffix}", f"fixplus-fresh-{suffix}-b"]
    for ns in namespaces:
        kubeclean.create_namespace(kube.cluster, ns)
    try:
        yield chart, group, suffix, crds
    finally:
        for ns in namespaces:
            kubeclean.delete_namespace(kube.cluster, ns)
        for name in crds:
            kube.run("delete", "crd", name, "--wait=false", check=False)


def test_fresh_install_with_examples_and_a_second_release(
        helm_binary: str, kube: Kube, renamed: tuple[Path, str, str, list[str]],
        tmp_path: Path) -> None:
    chart, group, suffix, crds = renamed
    for name in crds:
        assert kube.get("crd", name) is None
    helm = Helm(helm_binary, tmp_path / "helm-home", kubeconfig=kube.kubeconfig)
    first, second = f"fixplus-fresh-{suffix}", f"fixplus-fresh-{suffix}-b"
    try:
        # one command, as a user types it: no CRD applied before
        out = helm.run("install", "one", str(chart), "--namespace", first,
                       "--set", "examples.enabled=true", "--set", "dashboards.enabled=false",
                       "--wait=false").stdout
        assert "STATUS: deployed" in out
        for name in crds:
            crd = kube.get("crd", name)
            assert crd is not None
            assert any(c["type"] == "Established" and c["status"] == "True"
                       for c in crd["status"]["conditions"])
        session_kind = f"fixsession{suffix}.{group}"
        for role in ("acceptor", "initiator"):
            obj = kube.get(session_kind, f"one-pyfixmsg-plus-example-{role}", first)
            assert obj is not None, role
        assert kube.get(f"messagestore{suffix}.{group}", "one-pyfixmsg-plus-example-store",
                        first)
        # a second release elsewhere: the CRDs exist and belong to no release
        out = helm.run("install", "two", str(chart), "--namespace", second,
                       "--set", "examples.enabled=true", "--set", "dashboards.enabled=false",
                       "--wait=false").stdout
        assert "STATUS: deployed" in out
        assert kube.get(session_kind, "two-pyfixmsg-plus-example-acceptor", second)
        # uninstalling one release leaves the other's resources (and the CRDs)
        helm.run("uninstall", "one", "--namespace", first)
        for name in crds:
            assert kube.get("crd", name) is not None
        assert kube.get(session_kind, "two-pyfixmsg-plus-example-acceptor", second)
    finally:
        for release, ns in (("one", first), ("two", second)):
            helm.run("uninstall", release, "--namespace", ns, check=False)
