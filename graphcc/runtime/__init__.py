"""The runtime: runs what a backend lowered over the planned arena, and profiles it."""
