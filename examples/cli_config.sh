#!/usr/bin/env bash
# A YAML-configured pipeline run from the command line: JSON-lines chunks on stdin, the savings
# report (Markdown, per stage and per chunk) on stdout. Swap in your own chunks.jsonl
# ({"id", "text", "metadata"} per line) and question; drop --format to get JSON with the
# compressed chunks, their spans and the report.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1   # everything runs from local files

ctxcompress compress \
  --config examples/pipeline.yaml \
  --query "Who directed the film that was shot in or around Leland, North Carolina in 1986?" \
  --budget 0.3 \
  --model gpt-4o \
  --format markdown \
  < examples/chunks.jsonl
