"""A simulated Asterisk 22 for the hotline: AMI server, FastAGI client, app_queue and ConfBridge model,
softphones, citizens and traffic, on a real-time or a virtual clock. See docs/areas/pbxsim.md."""

from pbxsim.citizens import Citizen
from pbxsim.config import QueueConfig, SeatBehaviour, SimConfig
from pbxsim.simulator import Simulator
from pbxsim.stats import RunStats
from pbxsim.traffic import TrafficModel

__all__ = ["Citizen", "QueueConfig", "RunStats", "SeatBehaviour", "SimConfig", "Simulator", "TrafficModel"]
