"""The pipeline's CLI (`python -m pipeline`) and its Python API: `pipeline.load(path)` (pipeline/api.py)."""


def __getattr__(name: str):
    # Loaded on first use (PEP 562): `python -m pipeline` and `import pipeline.x` need not import the API.
    if name == "load":
        import importlib

        return importlib.import_module("pipeline.api").load
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
