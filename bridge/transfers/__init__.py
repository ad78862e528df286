"""Transfers of a citizen's call away from the agent (110/119/120 hand-offs)."""
