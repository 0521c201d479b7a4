"""The stack: which tracking/registry store and artifact store an environment uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.stack.resolve import Stack, resolve_stack

if TYPE_CHECKING:
    from conveyor.stack.artifacts import ArtifactStore

__all__ = ["ArtifactStore", "Stack", "resolve_stack"]


def __getattr__(name: str) -> Any:
    """ArtifactStore on first use: fsspec is not imported by commands that touch no artifacts."""
    if name == "ArtifactStore":
        from conveyor.stack.artifacts import ArtifactStore

        return ArtifactStore
    raise AttributeError(f"module 'conveyor.stack' has no attribute {name!r}")
