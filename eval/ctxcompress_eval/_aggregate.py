"""Result rows: :func:`aggregate` turns the per-question records of one method x budget into a row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _metrics as M

__all__ = ["aggregate"]


def aggregate(
    recs: Sequence[dict[str, Any]],
    *,
    dataset: str,
    method: str,
    budget: float,
    has_reader: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """One result row (method x budget on a dataset) from per-question records.

    Each recall gets a seeded bootstrap 95% interval over the questions (``<key>_lo``, ``<key>_hi``;
    ``_metrics.bootstrap_ci``).
    """
    n = len(recs)
    tin = [r["tokens_in"] for r in recs]
    tout = [r["tokens_out"] for r in recs]
    span = [r for r in recs if not r["yes_no"]]
    sup = [r for r in recs if r["support_total"] > 0]
    ms = [float(r["ms"]) for r in recs]
    mem = [r["mem_bytes"] / 2**20 for r in recs if r.get("mem_bytes") is not None]
    gold = [r["gold_retrieved"] for r in recs if r.get("gold_retrieved") is not None]
    vt = [r for r in recs if r["total_chars"] > 0]
    answer = [float(r["answer_in_context"]) for r in span]
    support = [r["support_kept"] / r["support_total"] for r in sup]
    support_all = [float(r["support_kept"] == r["support_total"]) for r in sup]
    row: dict[str, Any] = {
        "dataset": dataset,
        "method": method,
        "budget": budget,
        "n": n,
        "n_errors": sum(1 for r in recs if r.get("error")),
        "n_yes_no": n - len(span),
        "n_answer": len(span),
        "tokens_in": M.mean(tin),
        "tokens_out": M.mean(tout),
        "kept_fraction": M.mean(r["kept_fraction"] for r in recs),
        "kept_fraction_total": (sum(tout) / sum(tin)) if sum(tin) else None,
        "ratio": (sum(tin) / sum(tout)) if sum(tout) else None,
        "over_budget": sum(1 for r in recs if r["over_budget"]),
        "answer_recall": M.mean(answer),
        "n_support": len(sup),
        "support_recall": M.mean(support),
        "support_all": M.mean(support_all),
        "verbatim_rate": (sum(r["verbatim_chars"] for r in vt) / sum(r["total_chars"] for r in vt)) if vt else None,
        "latency_median_ms": M.percentile(ms, 50),
        "latency_p90_ms": M.percentile(ms, 90),
        "latency_mean_ms": M.mean(ms),
        "mem_median_mb": M.percentile(mem, 50),
        "mem_max_mb": max(mem) if mem else None,
        "gold_in_context": M.mean(float(g) for g in gold),
    }
    for key, values in (("answer_recall", answer), ("support_recall", support), ("support_all", support_all)):
        ci = M.bootstrap_ci(values, seed=seed)
        row[f"{key}_lo"], row[f"{key}_hi"] = ci if ci is not None else (None, None)
    if has_reader:
        row.update(
            {
                "reader_em": M.mean(float(r["em"]) for r in recs if "em" in r),
                "reader_f1": M.mean(float(r["f1"]) for r in recs if "f1" in r),
                "reader_substring": M.mean(float(r["substring"]) for r in recs if "substring" in r),
            }
        )
    return row
