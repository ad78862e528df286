"""The FastAGI wire format: reply lines as res_agi writes them, argument quoting, the environment."""

from __future__ import annotations

import pytest

from hotline.fastagi.commands import match_command, split_args, usage_error
from hotline.fastagi.protocol import (
    AgiProtocolError,
    agi_args,
    encode_command,
    parse_200,
    parse_env_line,
    quote,
    request_path,
    status_code,
)
from hotline.traces import load_agi_sessions


@pytest.mark.parametrize(("line", "result", "data", "extra"), [
    ("200 result=0", "0", None, {}),
    ("200 result=0 endpos=11234", "0", None, {"endpos": "11234"}),
    ("200 result=1 (13900001)", "1", "13900001", {}),
    ("200 result= (timeout)", "", "timeout", {}),
    ("200 result=12 (timeout)", "12", "timeout", {}),
    ("200 result=1 (张三)", "1", "张三", {}),
    ("200 result=1 (a (nested) value)", "1", "a (nested) value", {}),
    ("200 result=1 (x) y=z)", "1", "x) y=z", {}),
    ("200 result=0 (dtmf) endpos=8000", "0", "dtmf", {"endpos": "8000"}),
    ("200 result=-1 endpos=0", "-1", None, {"endpos": "0"}),
    ("200 result=1 ()", "1", "", {}),
])
def test_parse_200(line: str, result: str, data: str | None, extra: dict[str, str]) -> None:
    reply = parse_200(line)
    assert (reply.code, reply.result, reply.data, reply.extra) == (200, result, data, extra)


def test_every_recorded_reply_parses() -> None:
    for name in ("agi_sessions", "agi_utf8"):
        for session in load_agi_sessions(name):
            for step in session["exchange"]:
                reply = parse_200(step["resp"])
                assert reply.result_int is not None
    assert parse_200("200 result=0 endpos=11234").endpos == 11234


def test_malformed_200() -> None:
    with pytest.raises(AgiProtocolError):
        parse_200("200 nothing")
    with pytest.raises(AgiProtocolError):
        parse_200("200 result=1 (unclosed")


def test_status_code() -> None:
    assert status_code("520-Invalid command syntax.") == 520
    assert status_code("511 Command Not Permitted") == 511
    assert status_code("HANGUP") is None
    assert status_code("2000 x") is None


def test_quote_and_encode() -> None:
    assert encode_command("GET DATA", "beep", 4000, 1) == b"GET DATA beep 4000 1\n"
    assert encode_command("STREAM FILE", "hello-world", "") == b'STREAM FILE hello-world ""\n'
    assert quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert quote("张三") == "张三"
    assert split_args("VERBOSE " + quote('a "b" \\c') + " 1") == ["VERBOSE", 'a "b" \\c', "1"]
    with pytest.raises(ValueError):
        quote("x\nHANGUP")  # a caller name must not smuggle a second command
    with pytest.raises(ValueError):
        encode_command("stream file", "x")


def test_env_lines() -> None:
    assert parse_env_line("agi_request: agi://127.0.0.1:4573/ivr") == ("agi_request", "agi://127.0.0.1:4573/ivr")
    assert parse_env_line("agi_accountcode: ") == ("agi_accountcode", "")
    with pytest.raises(AgiProtocolError):
        parse_env_line("GET / HTTP/1.1")
    env = {"agi_request": "agi://127.0.0.1:4573/order-status?x=1", "agi_arg_1": "q1", "agi_arg_2": ""}
    assert request_path(env) == "order-status"
    assert agi_args(env) == ["q1", ""]
    assert request_path({"agi_network_script": "survey"}) == "survey"


def test_command_table_matches_the_recordings() -> None:
    for session in load_agi_sessions():
        for step in session["exchange"]:
            matched = match_command(step["cmd"])
            assert matched is not None, step["cmd"]
            assert not usage_error(*matched), step["cmd"]
    assert match_command("FROB NICATE") is None
    assert usage_error(*match_command("STREAM FILE welcome"))  # escape digits are required by res_agi
