"""LangChain integration for ctxcompress: compress retrieved documents and report the tokens saved.

>>> from ctxcompress import Budget, default_pipeline
>>> from langchain_ctxcompress import CtxCompressor
>>> compressor = CtxCompressor(compressor=default_pipeline(), budget=Budget(fraction=0.3))
>>> chain = compressor.with_retriever(retriever)  # doctest: +SKIP
>>> docs = chain.invoke("Who directed Jaws?")  # doctest: +SKIP
>>> print(compressor.last_report)  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import metadata as _metadata

from ._compressor import (
    METADATA_KEY,
    REPORT_EVENT,
    CompressorInput,
    CtxCompressIndexer,
    CtxCompressor,
    NoQueryWarning,
)

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("langchain-ctxcompress")
except _metadata.PackageNotFoundError:  # imported from a checkout without installing
    __version__ = "0+unknown"

__all__ = [  # noqa: RUF022 - plain sorted
    "CompressorInput",
    "CtxCompressIndexer",
    "CtxCompressor",
    "METADATA_KEY",
    "NoQueryWarning",
    "REPORT_EVENT",
    "__version__",
]
