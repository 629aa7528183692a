"""LangChain integration for ctxcompress: compress retrieved documents and report the tokens saved.

>>> from ctxcompress import Budget, default_pipeline
>>> from langchain_ctxcompress import CtxCompressor
>>> compressor = CtxCompressor(compressor=default_pipeline(), budget=Budget(fraction=0.3))
>>> chain = compressor.with_retriever(retriever)  # doctest: +SKIP
>>> docs = chain.invoke("Who directed Jaws?")  # doctest: +SKIP
>>> print(compressor.last_report)  # doctest: +SKIP
"""

from __future__ import annotations

from ._compressor import METADATA_KEY, REPORT_EVENT, CompressorInput, CtxCompressIndexer, CtxCompressor

__version__ = "0.1.0"

__all__ = ["CompressorInput", "CtxCompressIndexer", "CtxCompressor", "METADATA_KEY", "REPORT_EVENT", "__version__"]  # noqa: RUF022 - plain sorted
