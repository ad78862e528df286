"""Run a test module's decoder tests on both decoders: `from tests.ami.both import on_both_decoders  # noqa: F401`.

The autouse fixture sets `frames.PURE`, the default every `FrameDecoder()` (and so every AmiClient) takes:
"pure" is hotline/ami/frames.py's decoder, "c" the optional C one (only when it is built).
"""

from __future__ import annotations

import pytest

from hotline.ami import frames

IMPLEMENTATIONS = ("pure", "c") if frames._speedups is not None else ("pure",)


@pytest.fixture(autouse=True, params=IMPLEMENTATIONS)
def on_both_decoders(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(frames, "PURE", request.param == "pure")
    return request.param
