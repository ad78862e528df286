"""FastAGI: the asyncio server the dialplan's `AGI(agi://host:4573/<script>)` reaches."""

from hotline.fastagi.protocol import (
    AgiCommandError,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiReply,
    AgiTimeout,
)
from hotline.fastagi.server import FastAgiServer, Handler
from hotline.fastagi.session import AgiSession, Digits

__all__ = ["AgiCommandError", "AgiError", "AgiHangup", "AgiProtocolError", "AgiReply", "AgiSession", "AgiTimeout",
           "Digits", "FastAgiServer", "Handler"]
