"""patients stage."""

__all__ = []
