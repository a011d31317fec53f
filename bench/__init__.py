"""Offline benchmarks and simulations of the stack's behaviour; nothing here calls AWS."""
