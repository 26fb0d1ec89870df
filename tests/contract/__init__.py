"""Contract tests: one suite every message store backend passes."""
