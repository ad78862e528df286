"""Every table in the metadata so the shared fixtures create and empty them."""

import hotline.audit.models
import hotline.calls.models
import hotline.handoffs.models
import hotline.kb.models
import hotline.outbox.models
import hotline.workorders.models  # noqa: F401
