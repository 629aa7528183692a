"""LlamaIndex integration for ctxcompress: compress retrieved nodes and report the tokens saved.

>>> from ctxcompress import Budget, default_pipeline
>>> from llama_index.postprocessor.ctxcompress import CtxCompressPostprocessor
>>> pp = CtxCompressPostprocessor(compressor=default_pipeline(), budget=Budget(fraction=0.3))
>>> engine = index.as_query_engine(node_postprocessors=[pp])  # doctest: +SKIP
>>> print(pp.last_report)  # doctest: +SKIP
"""

from importlib import metadata as _metadata

from llama_index.postprocessor.ctxcompress.base import METADATA_KEY, CtxCompressEndEvent, CtxCompressPostprocessor
from llama_index.postprocessor.ctxcompress.indexer import CtxCompressIndexer

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("llama-index-postprocessor-ctxcompress")
except _metadata.PackageNotFoundError:  # imported from a checkout without installing
    __version__ = "0+unknown"

__all__ = ["CtxCompressEndEvent", "CtxCompressIndexer", "CtxCompressPostprocessor", "METADATA_KEY", "__version__"]  # noqa: RUF022 - plain sorted
