"""The core: types, errors, protocols, the Compressor base class, pipeline, report, registry, segmentation."""
