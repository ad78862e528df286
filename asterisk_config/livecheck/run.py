"""Live check: load the rendered configuration into an installed Asterisk 22 and carry one call from the
carrier trunk through the IVR and the queue to an agent.

It builds nothing: point it at an Asterisk 22 and a SIPp already installed on the machine.

    python -m asterisk_config.livecheck.run --asterisk /opt/ast/sbin/asterisk \
        --modules /opt/ast/lib/asterisk/modules --sipp /path/to/sipp --workdir /tmp/livecheck

Steps: render the files (secrets generated for the run), write an asterisk.conf that keeps every directory
under --workdir, start the embedded Redis and the platform's IVR (FastAGI), start Asterisk, add seat 1001 to
the queue over AMI (as the ACD does), register seat 1001 with SIPp, place a SIPp call from the carrier to
12345, and follow it over AMI with the platform's call tracker. Exit 0 only if the call was answered by seat
1001 from the hotline queue after the IVR ran, and Asterisk logged no ERROR while loading the files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from acd.config import load_acd_config
from asterisk_config.render import Deployment, render, write
from bridge.calls.tracker import CallTracker
from hotline.ami.client import AmiClient
from hotline.redis_server import EmbeddedRedis

HERE = Path(__file__).resolve().parent
AMI_PORT, AGI_PORT, SIP_PORT, CARRIER_PORT, AGENT_PORT = 15038, 14573, 15060, 15070, 16001


def asterisk_conf(work: Path, modules: Path) -> str:
    prefix = modules.parents[2]  # <prefix>/lib/asterisk/modules
    dirs = {"astetcdir": work / "etc", "astmoddir": modules, "astvarlibdir": work / "lib",
            "astdbdir": work / "lib", "astkeydir": work / "lib", "astdatadir": prefix / "var/lib/asterisk",
            "astagidir": work / "agi", "astspooldir": work / "spool", "astrundir": work / "run",
            "astlogdir": work / "log", "astsbindir": prefix / "sbin"}
    for key, path in dirs.items():
        if key not in ("astmoddir", "astdatadir", "astsbindir"):
            Path(path).mkdir(parents=True, exist_ok=True)
    lines = ["[directories]"] + [f"{k} => {v}" for k, v in dirs.items()]
    return "\n".join([*lines, "", "[options]", "verbose = 3", "nofork = yes", ""])


def self_signed(work: Path) -> tuple[Path, Path]:
    (work / "lib").mkdir(parents=True, exist_ok=True)
    key, cert = work / "lib" / "asterisk.key", work / "lib" / "asterisk.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=livecheck", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port}")


async def main(args: argparse.Namespace) -> int:
    work: Path = args.workdir
    (work / "etc").mkdir(parents=True, exist_ok=True)
    config = load_acd_config()
    env = {"HOTLINE_AMI_SECRET": secrets.token_hex(8),
           **{f"HOTLINE_SEAT_PASSWORD_{s.id}": secrets.token_hex(6) for s in config.seats}}
    cert, key = self_signed(work)
    deployment = Deployment(agi_host="127.0.0.1", agi_port=AGI_PORT, ami_port=AMI_PORT, sip_bind="127.0.0.1",
                            sip_port=SIP_PORT, http_bind="127.0.0.1", carrier_host=f"127.0.0.1:{CARRIER_PORT}",
                            emergency_gateway="127.0.0.1:17000", recordings_dir=str(work / "recordings"),
                            tls_cert=str(cert), tls_key=str(key))
    write(work / "etc", render(config, deployment, env))
    (work / "etc" / "asterisk.conf").write_text(asterisk_conf(work, args.modules), encoding="utf-8")
    (work / "recordings").mkdir(exist_ok=True)

    procs: list[subprocess.Popen[bytes]] = []
    redis = EmbeddedRedis().start()
    log = open(work / "processes.log", "wb")  # noqa: SIM115 - kept open for the children's lifetime
    try:
        child_env = {**os.environ, "REDIS_URL": redis.url, "HOTLINE_FASTAGI_HOST": "127.0.0.1",
                     "HOTLINE_FASTAGI_PORT": str(AGI_PORT), "DATABASE_URL": f"sqlite:///{work}/hotline.db"}
        subprocess.run([sys.executable, "-m", "hotline.cli", "migrate"], env=child_env, check=True)
        procs.append(subprocess.Popen([sys.executable, "-m", "ivr"], env=child_env, stdout=log, stderr=log))
        ast_env = dict(os.environ)
        if args.lib_dir:  # where a locally installed pjproject keeps its shared libraries
            ast_env["LD_LIBRARY_PATH"] = ":".join(filter(None, [str(args.lib_dir), ast_env.get("LD_LIBRARY_PATH")]))
        procs.append(subprocess.Popen([str(args.asterisk), "-C", str(work / "etc" / "asterisk.conf"), "-f"],
                                      stdout=log, stderr=log, env=ast_env))
        await wait_port(AGI_PORT)
        await wait_port(AMI_PORT, 60)
        ami = AmiClient("127.0.0.1", AMI_PORT, "hotline", env["HOTLINE_AMI_SECRET"], action_timeout=10)
        tracker = CallTracker()
        ended: asyncio.Future[dict] = asyncio.get_running_loop().create_future()

        def on_event(event: object) -> None:
            frame = getattr(event, "frame", None)
            if frame is None:
                return
            for change in tracker.feed(frame, time.time()):
                print(f"  {change['type']:<24} state={change['state']}")
                if change["type"] == "call.ended" and not ended.done():
                    ended.set_result(change["call"])

        ami.add_listener(on_event)
        await ami.connect(timeout=30)
        print("AMI:", ami.banner)
        await ami.send_action({"Action": "QueueAdd", "Queue": "hotline-general", "Interface": "PJSIP/1001",
                               "MemberName": "agent-1001", "Penalty": "0"})
        # seat 1001 registers, then its softphone answers on the same port (the contact is rewritten to it)
        subprocess.run([str(args.sipp), "-sf", str(HERE / "agent_register.xml"), "-s", "1001", "-au", "1001",
                        "-ap", env["HOTLINE_SEAT_PASSWORD_1001"], "-i", "127.0.0.1", "-p", str(AGENT_PORT),
                        "-m", "1", "-nostdin", "-timeout", "10", f"127.0.0.1:{SIP_PORT}"],
                       stdout=log, stderr=log, check=True)
        procs.append(subprocess.Popen(
            [str(args.sipp), "-sf", str(HERE / "agent_uas.xml"), "-i", "127.0.0.1", "-p", str(AGENT_PORT),
             "-m", "20", "-nostdin", f"127.0.0.1:{SIP_PORT}"], stdout=log, stderr=log))
        await asyncio.sleep(3)  # registration and the first qualify
        procs.append(subprocess.Popen(
            [str(args.sipp), "-sn", "uac", "-s", "12345", "-i", "127.0.0.1", "-p", str(CARRIER_PORT), "-m", "1",
             "-d", "12000", "-nostdin", f"127.0.0.1:{SIP_PORT}"], stdout=log, stderr=log))
        call = await asyncio.wait_for(ended, timeout=90)
        await ami.close()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        redis.stop()
        log.close()

    messages = (work / "log" / "messages.log").read_text(encoding="utf-8", errors="replace") \
        if (work / "log" / "messages.log").exists() else ""
    errors = [line for line in messages.splitlines() if " ERROR[" in line]
    print(f"call: outcome={call.get('outcome')} queue={call.get('queue')} agent={call.get('agent')} "
          f"wait={call.get('wait_seconds')} talk={call.get('talk_seconds')} ivr={call.get('ivr')}")
    print(f"Asterisk ERROR lines: {len(errors)}")
    for line in errors[:20]:
        print("  " + line)
    ok = (call.get("outcome") == "answered" and call.get("agent") == "1001" and call.get("queue") == "hotline-general"
          and bool(call.get("ivr", {}).get("path")) and not errors)
    print("LIVE CHECK", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m asterisk_config.livecheck.run")
    parser.add_argument("--asterisk", type=Path, required=True)
    parser.add_argument("--modules", type=Path, required=True)
    parser.add_argument("--sipp", type=Path, required=True)
    parser.add_argument("--lib-dir", type=Path, default=None, help="added to LD_LIBRARY_PATH for Asterisk")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/hotline-livecheck"))
    sys.exit(asyncio.run(main(parser.parse_args())))
