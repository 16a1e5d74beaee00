"""Publishing a brief: an effect, so each call waits for Dan's approval (crew.yaml)."""

from __future__ import annotations

import re
from pathlib import Path

from crew import ToolCall

CHANNELS = ("blog", "newsletter", "press release")


def publish_post(channel: str, title: str, body: str, call: ToolCall) -> dict[str, str]:
    """Publish a post on a channel (blog, newsletter or press release); returns its address."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "post"
    # Keyed on the call id, which stays the same if the run is resumed: publishing twice
    # rewrites the same file instead of making a second post.
    out = Path("published") / f"{slug}-{call.call_id}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    return {"channel": channel, "url": f"https://example.com/{channel.replace(' ', '-')}/{slug}"}
