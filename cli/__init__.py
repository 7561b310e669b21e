"""The ``xrdsim`` command-line interface (installed as ``xrdsim_cli``)."""
