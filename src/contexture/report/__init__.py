"""report stage."""

__all__ = []
