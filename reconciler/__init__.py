"""reconciler: GitOps for an AI-model catalog."""

__version__ = "0.1.0"
