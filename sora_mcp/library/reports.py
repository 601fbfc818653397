"""Money and overview queries over the ledger: spend by UTC day/month, and the library summary.

A mixin so `Ledger` stays about storage; it relies only on `_rows`, `_now` and `list_jobs`.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from sora_mcp.library.sql import Row

# Failed and cancelled generations are not billed by the providers we know of.
_BILLED = "kind != 'external' AND status NOT IN ('failed', 'cancelled') AND cost_usd IS NOT NULL"


class LedgerReports:
    def _rows(self, sql: str, params: Any = ()) -> builtins.list[Row]:
        raise NotImplementedError

    def _now(self) -> int:
        raise NotImplementedError

    def list_jobs(
        self, *, limit: int = 20, include_deleted: bool = False
    ) -> tuple[builtins.list[Any], str | None]:
        raise NotImplementedError

    # -- money and summaries ----------------------------------------------------------------------

    def spent_since(self, ts: int) -> float:
        """USD estimated for jobs made here since `ts` (failed and cancelled jobs are not billed)."""
        row = self._rows(
            f"SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM jobs WHERE {_BILLED} AND recorded_at >= ?", (ts,)
        )
        return round(float(row[0]["usd"]), 6)

    def spend_summary(self, now: int | None = None) -> dict[str, Any]:
        """Today / this month / total (UTC) of jobs made through sora-mcp, and how many lack a price."""
        moment = datetime.fromtimestamp(self._now() if now is None else now, UTC)
        day = int(moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
        month = int(moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
        out: dict[str, Any] = {"as_of": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "timezone": "UTC"}
        for name, start in (("today", day), ("month", month), ("total", 0)):
            row = self._rows(
                "SELECT COALESCE(SUM(CASE WHEN cost_usd IS NOT NULL AND status NOT IN "
                "('failed', 'cancelled') THEN cost_usd END), 0) AS usd, COUNT(*) AS jobs, "
                "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unknown "
                "FROM jobs WHERE kind != 'external' AND recorded_at >= ?",
                (start,),
            )[0]
            out[f"{name}_usd"] = round(float(row["usd"]), 6)
            out[f"{name}_jobs"] = int(row["jobs"])
            out[f"{name}_unknown_cost_jobs"] = int(row["unknown"] or 0)
        out["note"] = "Estimates from the price table; failed and cancelled jobs are not counted as spend."
        return out

    def summary(self) -> dict[str, Any]:
        """What the library holds, for the `sora://library` resource."""
        by_status = {
            r["status"]: r["n"] for r in self._rows("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        }
        files = self._rows("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM assets")[0]
        recent, _ = self.list_jobs(limit=5, include_deleted=True)
        return {
            "jobs": sum(by_status.values()),
            "by_status": by_status,
            "assets": int(files["n"]),
            "bytes_on_disk": int(files["bytes"]),
            "recent": [
                {
                    "id": r.id,
                    "status": r.status,
                    "model": r.model,
                    "created_at": r.created_at,
                    "prompt": (r.prompt_given or r.prompt_sent or "")[:120],
                    "archived": [a.variant for a in r.assets],
                }
                for r in recent
            ],
            "spend": self.spend_summary(),
        }
