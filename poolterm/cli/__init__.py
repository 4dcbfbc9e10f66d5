"""The command line: one module per sub-command, and the options they share (``main`` wires them)."""
