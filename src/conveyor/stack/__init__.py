"""The stack: which tracking/registry store and artifact store an environment uses."""

from conveyor.stack.artifacts import ArtifactStore
from conveyor.stack.resolve import Stack, resolve_stack

__all__ = ["ArtifactStore", "Stack", "resolve_stack"]
