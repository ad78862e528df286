"""The current notice the greeting carries (e.g. a declared water outage): stored in Redis by
supervisors through the API, read by the welcome flow, rendered to audio by `python -m ivr.prompts.render`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import redis.asyncio as aioredis

from ivr import keys
from ivr.prompts import sound_prefix
from ivr.schemas import Notice, NoticeIn


class NoticeExpired(ValueError):
    pass


def rendered_name(text: str, prefix: str | None = None) -> str:
    """The sound file the text is rendered to: named by its hash, so a changed text is a new file."""
    return f"{prefix or sound_prefix()}/notice-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


async def set_notice(redis: aioredis.Redis, data: NoticeIn, set_by: str, now: datetime | None = None) -> Notice:
    now = now or datetime.now(UTC)
    if data.expires_at is not None and data.expires_at <= now:
        raise NoticeExpired("expires_at is in the past")
    notice = Notice(**data.model_dump(), set_by=set_by, set_at=now, prompt=data.sound or rendered_name(data.text))
    payload = notice.model_dump_json()
    if data.expires_at is not None:
        await redis.set(keys.NOTICE, payload, exat=int(data.expires_at.timestamp()))
    else:
        await redis.set(keys.NOTICE, payload)
    return notice


async def get_notice(redis: aioredis.Redis) -> Notice | None:
    raw = await redis.get(keys.NOTICE)
    return Notice.model_validate_json(raw) if raw else None


async def clear_notice(redis: aioredis.Redis) -> bool:
    return bool(await redis.delete(keys.NOTICE))
