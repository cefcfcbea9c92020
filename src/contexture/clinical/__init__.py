"""clinical stage."""

__all__ = []
