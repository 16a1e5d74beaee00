"""A read-only tool over the market figures shipped in `data/markets.yaml`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent.parent / "data" / "markets.yaml"


def market_data(market: str) -> dict[str, Any]:
    """Figures for one market (e.g. US, EU, JP): retail growth, who buys, typical prices."""
    markets = yaml.safe_load(DATA.read_text(encoding="utf-8")) or {}
    figures = markets.get(market.strip().upper())
    if figures is None:
        raise LookupError(f"no figures for {market!r}; markets: {', '.join(sorted(markets))}")
    return {"market": market.strip().upper(), **figures}
