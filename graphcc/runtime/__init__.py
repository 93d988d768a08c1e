"""The runtime: programs built from optimised graphs, and the memory report."""
