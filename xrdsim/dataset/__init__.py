"""Dataset stage: splits, sharded Zarr v3 stores and their codec, the build, manifests, inspect.

Data flow: structures -> peaks -> simulation -> dataset.
"""
