"""The append-only evidence ledger: Merkle maths, signed notes, checkpoints, the log."""
