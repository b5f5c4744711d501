"""Where each model is written: its own document, and the Defaults documents above it.

``adopt`` needs this to decide whether a live value goes into a model's own
document or is already what the model inherits. Documents are numbered in the
order the YAML parser yields them, as ``reconciler.manifests.rewrite`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.errors import ManifestError, ManifestProblem
from reconciler.manifests.loader import defaults_directories, manifest_files


@dataclass(frozen=True)
class DocumentRef:
    """One YAML document: the file as shown to the user, the file on disk, its index."""

    file: str
    path: Path
    index: int


@dataclass(frozen=True)
class ModelSource:
    """A model's own document (as plain data) and its Defaults specs, outermost first."""

    key: str
    document: DocumentRef
    value: Mapping[str, Any]
    defaults: tuple[tuple[DocumentRef, Mapping[str, Any]], ...]

    @property
    def spec(self) -> Mapping[str, Any]:
        """The model's own spec (empty when the document has none)."""
        spec = self.value.get("spec")
        return spec if isinstance(spec, Mapping) else {}


def model_sources(paths: Sequence[Path]) -> dict[str, ModelSource]:
    """Every model of the manifests under ``paths`` with where its values are written."""
    files, problems = manifest_files(paths)
    if problems:
        raise ManifestError(problems)
    yaml = YAML(typ="safe", pure=True)
    models: list[tuple[str, DocumentRef, Mapping[str, Any]]] = []
    defaults: dict[Path, tuple[DocumentRef, Mapping[str, Any]]] = {}
    for display, resolved in files:
        try:
            documents = list(yaml.load_all(resolved.read_text(encoding="utf-8-sig")))
        except (OSError, YAMLError) as exc:
            raise ManifestError([ManifestProblem(display, 1, 1, "", str(exc))]) from None
        for index, value in enumerate(documents):
            if not isinstance(value, dict):
                continue
            ref = DocumentRef(display, resolved, index)
            if value.get("kind") == "Defaults":
                spec = value.get("spec")
                defaults.setdefault(resolved.parent, (ref, spec if isinstance(spec, dict) else {}))
            elif value.get("kind") == "Model" and isinstance(value.get("metadata"), dict):
                models.append((str(value["metadata"].get("key")), ref, value))
    out = {}
    for key, ref, value in models:
        chain = tuple(defaults[d] for d in defaults_directories(ref.path.parent) if d in defaults)
        out[key] = ModelSource(key, ref, value, chain)
    return out
