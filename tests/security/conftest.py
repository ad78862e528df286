"""The console fixtures (a real uvicorn console, users, logged-in sessions per role) and every table."""

import hotline.audit.models
import hotline.calls.models
import hotline.handoffs.models
import hotline.kb.models
import hotline.outbox.models
import hotline.workorders.models  # noqa: F401
from tests.console.conftest import bus, console, live, sessions  # noqa: F401
