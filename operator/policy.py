"""What the cluster admin allows the authors of resources: images and Secrets.

The rules come from the operator's environment (set by the Helm chart from
its values, see docs/helm.md), never from the resources themselves:

``FIXPLUS_ENGINE_IMAGE``
    the image of every engine pod whose resource names none (the chart sets
    its own image);
``FIXPLUS_ENGINE_IMAGE_PULL_POLICY``
    the pull policy of those pods unless the resource gives one;
``FIXPLUS_ALLOWED_IMAGES``
    further images a resource may ask for in ``spec.image`` (comma or space
    separated; an entry ending in ``*`` allows every image starting with
    what precedes it, e.g. ``registry.example/fix/pyfixmsg-plus:*``);
``FIXPLUS_SECRET_ALLOW_LABEL``
    a Secret carrying this label with the value ``"true"`` may be referenced
    by the resources of its namespace (default ``fixplus.io/allow-reference``;
    empty: the label grants nothing);
``FIXPLUS_ALLOWED_SECRETS``
    Secrets that may be referenced without the label: ``namespace/name`` or
    ``namespace/*`` (comma or space separated).

Everything else is refused: the reconciler reports it as a ``Degraded``
condition and a Warning event, and mounts nothing of a refused Secret.
Pure: no API client.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Final

#: The label that lets the resources of a namespace reference a Secret.
ALLOW_LABEL: Final = "fixplus.io/allow-reference"


def _version() -> str:
    try:
        return metadata.version("pyfixmsg-plus")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source tree
        return "0.1.0"


#: The engine image when the operator is given none: this release's image.
DEFAULT_IMAGE: Final = f"pyfixmsg-plus:{_version()}"

_REFERENCE = re.compile(r"\$\{(ENV|FILE):")


class PolicyError(ValueError):
    """A resource asks for something the admin does not allow."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _words(text: str | None) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[\s,]+", text or "") if w)


def _matches(pattern: str, value: str) -> bool:
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


@dataclasses.dataclass(frozen=True)
class Policy:
    default_image: str = DEFAULT_IMAGE
    default_pull_policy: str = "IfNotPresent"
    allowed_images: tuple[str, ...] = ()
    secret_label: str | None = ALLOW_LABEL
    allowed_secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Policy:
        env = os.environ if environ is None else environ
        label = env.get("FIXPLUS_SECRET_ALLOW_LABEL", ALLOW_LABEL).strip()
        pull = env.get("FIXPLUS_ENGINE_IMAGE_PULL_POLICY", "").strip()
        return cls(
            default_image=env.get("FIXPLUS_ENGINE_IMAGE", "").strip() or DEFAULT_IMAGE,
            default_pull_policy=pull or "IfNotPresent",
            allowed_images=_words(env.get("FIXPLUS_ALLOWED_IMAGES")),
            secret_label=label or None,
            allowed_secrets=_words(env.get("FIXPLUS_ALLOWED_SECRETS")),
        )

    # -- images ----------------------------------------------------------------

    def image(self, requested: str | None) -> str:
        """The image to run for a resource that asks for ``requested``."""
        if requested is None or requested == self.default_image:
            return self.default_image
        if any(_matches(p, requested) for p in self.allowed_images):
            return requested
        allowed = ", ".join((self.default_image, *self.allowed_images))
        raise PolicyError(
            "ImageNotAllowed",
            f"spec.image {requested!r} is not allowed by the operator (allowed: {allowed}); "
            "leave spec.image out to run the default engine image, or ask the cluster admin "
            "to add it to the chart's engine.allowedImages")

    # -- Secrets ---------------------------------------------------------------

    def secret_allowed(self, namespace: str, name: str, labels: Mapping[str, str]) -> bool:
        if self.secret_label is not None and labels.get(self.secret_label) == "true":
            return True
        for entry in self.allowed_secrets:
            ns, _, secret = entry.partition("/")
            if ns == namespace and secret in ("*", name):
                return True
        return False

    def secret_rule(self) -> str:
        """How a Secret becomes referenceable, for refusal messages."""
        ways = []
        if self.secret_label is not None:
            ways.append(f"carry the label {self.secret_label}: \"true\"")
        ways.append("be listed in the operator's allowed Secrets (the chart's "
                    "secrets.allowed)")
        return "a Secret a resource references must " + " or ".join(ways)


def references(data: Any, path: str = "spec") -> list[str]:
    """The paths of the strings in ``data`` that hold ``${ENV:…}``/``${FILE:…}``."""
    found: list[str] = []
    if isinstance(data, Mapping):
        for key, value in data.items():
            found += references(value, f"{path}.{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += references(value, f"{path}[{index}]")
    elif isinstance(data, str) and _REFERENCE.search(data.replace("$${", "")):
        found.append(path)
    return found


def reference_problem(paths: list[str]) -> str:
    return (f"{', '.join(paths)}: ${{ENV:…}} and ${{FILE:…}} references are not taken "
            "from a resource; secrets come from Secrets (passwordSecretRef, "
            "passwordHashSecretRef, credentials.secretRef, tls.secretName) or from Vault")
