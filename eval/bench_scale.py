"""Scale benchmark (issue 12 §2): wall time and peak RSS of the default pipeline per input size.

Each step runs in a fresh subprocess, so its peak RSS (``ru_maxrss`` of the child) is its own.
Chunks are HotpotQA dev paragraphs (``--data-dir``/hotpotqa_distractor_dev500, CC BY-SA 4.0), cycled
when a step needs more than the file holds. ``--fake-embedder-from N`` runs steps of N chunks and more
with ``ctxcompress.testing.FakeEmbedder`` (the algorithmic part only); such rows are labelled "fake
embedder" and are not figures of the real pipeline.

    taskset -c 1 env OMP_NUM_THREADS=1 python eval/bench_scale.py --sizes 10 100 1000 10000 \\
        --fake-embedder-from 100000 --out eval/results_scale.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def paragraphs(data_dir: Path) -> list[dict[str, str]]:
    """Distinct real paragraphs: HotpotQA dev and train, MuSiQue, NaturalQuestions and PubMedQA contexts.

    Steps larger than this list cycle through it (the table says how many texts were distinct).
    """
    out: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(title: str, text: str) -> None:
        if text and text not in seen:
            seen.add(text)
            out.append({"title": title, "text": text})

    def lines(rel: str) -> list[dict[str, Any]]:
        path = data_dir / rel
        if not path.is_file():
            return []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    for r in lines("hotpotqa_distractor_dev500/hotpotqa_dev_subsampled.dev.jsonl.gz"):
        for c in r["contexts"]:
            add(c.get("title", ""), c["paragraph_text"])
    for r in lines("hotpotqa_train100_hipporag/hotpotqa_train100.dev.jsonl.gz"):
        for title, sents in r["context"]:
            add(title, "".join(sents))
    for r in lines("musique_train100_hipporag/musique_ans_train100.dev.jsonl.gz"):
        for c in r["paragraphs"]:
            add(c.get("title", ""), c["paragraph_text"])
    for r in lines("lost_in_the_middle_nq/nq-open-oracle.dev.jsonl.gz"):
        for c in r.get("ctxs", []):
            add(c.get("title", ""), c.get("text", ""))
    pubmed = data_dir / "pubmedqa_pqal" / "pqal.dev.json.gz"
    if pubmed.is_file():
        with gzip.open(pubmed, "rt", encoding="utf-8") as f:
            for item in json.load(f).values():
                for text in item.get("CONTEXTS", []):
                    add("", text)
    return out


def make_input(data_dir: Path, n: int, path: Path) -> int:
    """Write ``n`` chunks; returns how many distinct texts they hold."""
    paras = paragraphs(data_dir)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            p = paras[i % len(paras)]
            f.write(json.dumps({"id": f"p{i}", "text": p["text"], "metadata": {"title": p["title"]}}) + "\n")
    return min(n, len(paras))


def make_line(data_dir: Path, size: int, path: Path) -> int:
    """One prose line of ``size`` characters (paragraphs joined by spaces, cycled if needed); returns the
    number of distinct characters of text it holds."""
    parts: list[str] = []
    total = 0
    paras = paragraphs(data_dir)
    i = 0
    while total < size:
        parts.append(paras[i % len(paras)]["text"].replace("\n", " "))
        total += len(parts[-1]) + 1
        i += 1
    path.write_text(json.dumps({"id": "line", "text": " ".join(parts)[:size]}) + "\n", encoding="utf-8")
    return min(size, sum(len(p["text"]) + 1 for p in paras))


CHILD = """
import json, sys, time
from ctxcompress import Chunk
from ctxcompress._demo import default_pipeline
src, fake = sys.argv[1], sys.argv[2] == "1"
chunks = []
for line in open(src, encoding="utf-8"):
    r = json.loads(line)
    chunks.append(Chunk(text=r["text"], id=r["id"], metadata=r.get("metadata", {})))
pipe = default_pipeline()
if fake:
    from ctxcompress.testing import FakeEmbedder
    emb = FakeEmbedder()
    pipe.set_params(fuse__embedder=emb, filter__embedder=emb)
t0 = time.perf_counter()
res = pipe.compress(chunks, query="Which government position was held by the actress?", budget=0.25)
print(json.dumps({"seconds": time.perf_counter() - t0, "tokens_in": res.report.tokens_in,
                  "tokens_out": res.report.tokens_out}))
"""


_WRAP = (
    "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print('PEAK_KB', u.ru_maxrss, 'CPU_S', u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(p.returncode)"
)


def run_child(cmd: list[str]) -> tuple[float, float, float, str]:
    """Run ``cmd`` under a fresh wrapper process, whose children's peak RSS and CPU time are this step's alone.

    CPU seconds (user + system) are the figure to compare between steps on a shared machine: wall time
    also counts the time other processes held the core.
    """
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {proc.stderr[-2000:]}")
    tail = proc.stderr.rsplit("PEAK_KB", 1)[1].split()
    return wall, int(tail[0]) / 1024, float(tail[2]), proc.stdout


def _fake_pipeline_config() -> dict[str, object]:
    from ctxcompress._demo import default_pipeline
    from ctxcompress.testing import FakeEmbedder

    pipe = default_pipeline()
    emb = FakeEmbedder()
    pipe.set_params(fuse__embedder=emb, filter__embedder=emb)
    return pipe.to_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000, 100000])
    ap.add_argument("--fake-embedder-from", type=int, default=100000)
    ap.add_argument("--line-mb", type=float, default=5.0)
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI runs")
    ap.add_argument(
        "--cli-real-max",
        type=int,
        default=None,
        help="run the CLI with the real embedder only up to this many chunks (it is the same code path as the "
        "Python API plus reading and writing JSON; larger steps still run it with the fake embedder)",
    )
    ap.add_argument("--out", default=str(HERE / "results_scale.json"))
    args = ap.parse_args()
    data_dir = Path(args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(f"{n} chunks", n, None) for n in args.sizes]
        if args.line_mb > 0:
            cases.append((f"{args.line_mb:g} MB single line", None, int(args.line_mb * 1_000_000)))
        for label, n, line in cases:
            src = Path(tmp) / "in.jsonl"
            if n is not None:
                distinct = make_input(data_dir, n, src)
            else:
                assert line is not None
                distinct = make_line(data_dir, line, src)
            fake = n is not None and n >= args.fake_embedder_from
            kinds = [("python", [sys.executable, "-c", CHILD, str(src), "1" if fake else "0"])]
            cli_fake = fake or (args.cli_real_max is not None and n is not None and n > args.cli_real_max)
            if not args.no_cli:
                cli = [
                    sys.executable,
                    "-m",
                    "ctxcompress",
                    "compress",
                    "--input",
                    str(src),
                    "--query",
                    "Which government position was held by the actress?",
                    "--budget",
                    "0.25",
                ]
                if cli_fake:  # the default pipeline with the fake embedder, through a configuration file
                    config = Path(tmp) / "fake.json"
                    config.write_text(json.dumps(_fake_pipeline_config()), encoding="utf-8")
                    cli += ["--config", str(config)]
                kinds.append(("cli (fake embedder)" if cli_fake and not fake else "cli", cli))
            for kind, cmd in kinds:
                wall, rss, cpu, out = run_child(cmd)
                row = {
                    "case": label,
                    "via": kind,
                    "embedder": "fake" if (fake or "fake" in kind) else "real (default)",
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "distinct_texts": distinct,
                    "peak_rss_mb": round(rss, 1),
                }
                if kind == "python":
                    row.update(json.loads(out.strip().splitlines()[-1]))
                rows.append(row)
                print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    lines = [
        "| case | distinct texts (chars for the line) | via | embedder | CPU s | wall s | peak RSS MB |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['distinct_texts']} | {r['via']} | {r['embedder']} | {r['cpu_s']} | {r['wall_s']} "
            f"| {r['peak_rss_mb']} |"
        )
    Path(args.out).with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
