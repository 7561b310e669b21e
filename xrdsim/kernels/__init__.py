"""numba kernels: array in, array out, fixed dtypes, explicit RNG state, ``cache=True``.

Orchestration (validation, dtype conversion, parameter sampling) lives in the
modules that call these kernels, never inside them.
"""
