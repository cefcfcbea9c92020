"""toxicity stage."""
