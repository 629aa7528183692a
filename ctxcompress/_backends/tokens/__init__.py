"""Token counters: exact offline tiktoken counts, any Hugging Face tokenizer, and an estimate.

Every counter implements :class:`~ctxcompress._core.protocols.TokenCounter` (a ``name`` and
``count(text) -> int``), is cheap to construct (files load on the first count), and pickles by
configuration (the loaded tokenizer is rebuilt lazily after unpickling).

- :class:`TiktokenCounter` counts exactly like OpenAI's ``tiktoken`` for ``o200k_base`` and
  ``cl100k_base`` (and ``r50k_base`` / ``p50k_base`` when their files can be found), without a
  network: the BPE file comes from a local package and is checked against the sha256 that tiktoken
  itself expects.
- :class:`HFTokenizerCounter` counts with any Hugging Face tokenizer (``tokenizer.json``,
  ``tokenizers.Tokenizer`` or a loaded ``transformers`` tokenizer).
- :class:`ApproxCounter` estimates an OpenAI-like count with a regex and needs nothing.
- :class:`WhitespaceCounter` counts whitespace-separated words (for tests and fakes).
- :func:`for_model` and :func:`get_counter` resolve a counter from a model name or a short spec.

- :mod:`.models`: the model name → encoding table; :mod:`.offline_files`: finding and checking the
  BPE files offline; :mod:`.counters`: the four counters; :mod:`.factory`: :func:`for_model`,
  :func:`get_counter`.
"""

from .counters import ApproxCounter, HFTokenizerCounter, TiktokenCounter, WhitespaceCounter
from .factory import for_model, get_counter
from .models import MODEL_ENCODINGS

__all__ = [
    "MODEL_ENCODINGS",
    "ApproxCounter",
    "HFTokenizerCounter",
    "TiktokenCounter",
    "WhitespaceCounter",
    "for_model",
    "get_counter",
]
