"""nanostring stage."""
