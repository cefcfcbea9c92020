"""clinical stage."""
