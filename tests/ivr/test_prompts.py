"""The prompt catalogue, speaking from pieces, and rendering to Asterisk-ready audio."""

from __future__ import annotations

import shutil
import wave
from datetime import UTC, date, datetime

import pytest

from hotline.domain import OrderStatus
from ivr.prompts import catalogue, sound
from ivr.prompts.render import main as render_main
from ivr.prompts.render import render
from ivr.speech import date_pieces, digit_pieces, minutes_pieces, number_pieces

NAMES = {"0": "零", "1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六", "7": "七", "8": "八",
         "9": "九", "ten": "十", "hundred": "百", "thousand": "千"}


def spoken(pieces: list[str]) -> str:
    texts = catalogue()
    return "".join(texts[p] for p in pieces)


@pytest.mark.parametrize(("n", "text"), [(0, "零"), (7, "七"), (10, "十"), (12, "十二"), (20, "二十"), (35, "三十五"),
                                         (100, "一百"), (105, "一百零五"), (110, "一百一十"), (1005, "一千零五"),
                                         (2026, "二千零二十六"), (12345, "一二三四五")])
def test_numbers(n: int, text: str) -> None:
    assert spoken(number_pieces(n)) == text


def test_dates_are_read_in_beijing_time() -> None:
    assert spoken(date_pieces(date(2026, 11, 21))) == "二零二六年十一月二十一日"
    # 17:00 UTC on the 21st is already the 22nd in Beijing
    assert spoken(date_pieces(datetime(2026, 11, 21, 17, 0, tzinfo=UTC))) == "二零二六年十一月二十二日"
    with pytest.raises(ValueError):
        date_pieces(datetime(2026, 11, 21, 17, 0))


def test_digits_and_minutes() -> None:
    assert spoken(digit_pieces("20261121-000123")) == "二零二六一一二一零零零一二三"
    assert spoken(minutes_pieces(61)) == "二分钟" and spoken(minutes_pieces(5)) == "一分钟"


def test_catalogue_has_every_piece() -> None:
    texts = catalogue()
    for status in OrderStatus:
        assert texts[f"status/{status.value}"] == status.label
    for key, text in NAMES.items():
        assert texts[f"digits/{key}"] == text
    assert all(text.strip() for text in texts.values())
    assert sound("welcome") == "hotline/welcome" and sound("welcome", "zh/hl") == "zh/hl/welcome"
    with pytest.raises(KeyError):
        sound("no_such_prompt")


def test_without_the_tools_nothing_is_rendered(monkeypatch, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))
    assert render_main(["--out", str(tmp_path / "out")]) == 0
    assert "espeak-ng, sox not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("sox")), reason="espeak-ng/sox not installed")
def test_render_to_8khz_and_keep_real_recordings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "goodbye.wav").write_bytes(b"a real recording")
    prompts = {"digits/3": "三", "goodbye": "再见", "survey_thanks": "感谢您的评价"}
    report = render(prompts, tmp_path)
    assert sorted(report.rendered) == ["digits/3", "survey_thanks"] and report.recordings_kept == ["goodbye"]
    assert (tmp_path / "goodbye.wav").read_bytes() == b"a real recording"
    with wave.open(str(tmp_path / "digits" / "3.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        frames = w.getnframes()
    assert frames > 800  # some speech, not an empty file
    sln16 = (tmp_path / "digits" / "3.sln16").stat().st_size
    assert abs(sln16 / 2 - 2 * frames) <= 64  # 16 kHz raw: twice the samples of the 8 kHz file
    again = render(prompts, tmp_path)
    assert again.rendered == [] and sorted(again.unchanged) == ["digits/3", "survey_thanks"]
    changed = render({**prompts, "survey_thanks": "谢谢"}, tmp_path)
    assert changed.rendered == ["survey_thanks"]
