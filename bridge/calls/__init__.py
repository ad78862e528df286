"""The call tracker: AMI events in, call events out."""

from bridge.calls.state import CallMachine, CallState
from bridge.calls.tracker import CallTracker

__all__ = ["CallMachine", "CallState", "CallTracker"]
