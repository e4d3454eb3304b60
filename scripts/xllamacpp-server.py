#!/usr/bin/env python3
"""Serve one GGUF model with llama.cpp's server (PyPI `xllamacpp`) on 127.0.0.1.

    python3 scripts/xllamacpp-server.py --model FILE.gguf --port $PORT \
        [--slots 4] [--threads 2] [--ctx 4096] [--alias NAME] [--seed -1]

Why: it gives Caravan an OpenAI-compatible engine (llama-server's /health, /v1/models,
/v1/chat/completions, /v1/completions, SSE streaming, `timings`) with nothing to compile: one
pip install (see scripts/requirements-inference.txt). Usable as a spec's `engine.command`.

- Binds 127.0.0.1 only: `--host` exists for command-line compatibility, anything else is refused.
- `--port` defaults to $PORT, `--model` to $MODEL when that names a file.
- `--slots` = parallel sequences (llama-server -np); `--ctx` is the total context, split evenly
  over the slots as llama-server does (4096 with 4 slots = 1024 tokens per request).
- `--threads`: llama.cpp's threads meet at a barrier for every token, so one thread that loses its
  core stalls the rest. With dedicated cores (a Slurm allocation) use them all; on a shared,
  busy machine use --threads 1 (SmolLM2 on 2 busy cores: ~5 tokens/s with 2 threads,
  ~60-90 with 1; OMP_WAIT_POLICY=PASSIVE brings 2 threads to ~45).
- `--alias` is the model name /v1/models lists and answers carry (default: the file's name).
  The server does not check a request's `model`: any name is served by this one model.
- `--seed` is the sampling seed for requests that send none. The default -1 draws a fresh seed
  per request (OpenAI behaviour: temperature > 0 varies); greedy decoding (temperature 0) is
  deterministic whatever the seed, and a request's own `seed` makes sampling repeatable. A fixed
  `--seed N` makes every seedless request with the same prompt and settings repeat exactly.
- One line `xllamacpp-server: ready ...` goes to stderr once the model is loaded (/health is 503
  before that, 200 after). llama.cpp's own log goes to stderr too.
- SIGTERM/SIGINT once loaded: exits 0 at once; the port is free, in-flight requests are cut.
  While the model is still loading (the xllamacpp constructor holds the GIL) the signals keep
  their default action, so the process dies at once too (status 143 for SIGTERM, 130 for SIGINT).
- Exit 2 for bad arguments or a missing model file, 1 when the server fails to start.
"""
import argparse
import os
import select
import signal
import sys

ME = "xllamacpp-server"


def die(code, message):
    print(f"{ME}: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def parse_args():
    env_model = os.environ.get("MODEL", "")
    ap = argparse.ArgumentParser(prog=ME, description="llama.cpp server (xllamacpp) on 127.0.0.1")
    ap.add_argument("--model", "-m", default=env_model if os.path.isfile(env_model) else None,
                    help="GGUF file (default: $MODEL when it is a file)")
    ap.add_argument("--port", type=int, default=os.environ.get("PORT"), help="default: $PORT")
    ap.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 is accepted")
    ap.add_argument("--slots", "-np", type=int, default=1, help="parallel requests (default 1)")
    ap.add_argument("--threads", "-t", type=int, default=-1, help="CPU threads (default: auto)")
    ap.add_argument("--ctx", "-c", type=int, default=4096,
                    help="total context, split over the slots (default 4096)")
    ap.add_argument("--alias", help="served model name (default: the file's name)")
    ap.add_argument("--embedding", action="store_true",
                    help="serve /v1/embeddings (llama-server --embedding), for task: embed")
    ap.add_argument("--seed", type=int, default=-1,
                    help="seed for requests without one; -1 = a fresh one per request (default)")
    args = ap.parse_args()
    if args.host != "127.0.0.1":
        die(2, f"refusing --host {args.host}: this launcher binds 127.0.0.1 only")
    if args.port is None:
        die(2, "no port: pass --port or set PORT")
    if not 0 < args.port < 65536:
        die(2, f"bad port {args.port}")
    if not args.model:
        die(2, "no model: pass --model FILE.gguf or set MODEL to a GGUF file")
    if not os.path.isfile(args.model):
        die(2, f"model file not found: {args.model}")
    if args.slots < 1 or args.ctx < args.slots or args.threads == 0 or args.threads < -1:
        die(2, "need --slots >= 1, --ctx >= --slots, --threads >= 1 (or -1 for auto)")
    return args


def main():
    # Until the server is up, SIGTERM/SIGINT keep their default action (die at once): loading
    # runs inside C++ holding the GIL, so a Python handler could only run once it has finished.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    args = parse_args()
    try:
        from xllamacpp import CommonParams, Server, LLAMA_DEFAULT_SEED, llama_pooling_type, __version__
    except ImportError as e:
        die(1, f"cannot import xllamacpp in {sys.executable} ({e}); install it with "
               "pip install --no-deps -r scripts/requirements-inference.txt")

    p = CommonParams()
    p.model.path = os.path.abspath(args.model)
    p.hostnames = ["127.0.0.1"]
    p.port = args.port
    p.n_parallel = args.slots
    p.n_ctx = args.ctx
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads
    p.sampling.seed = LLAMA_DEFAULT_SEED if args.seed < 0 else args.seed
    p.ui = False  # no web UI: this is an API endpoint for batch jobs
    p.embedding = args.embedding
    if args.embedding:
        # Mean pooling: one vector per input, as /v1/embeddings needs (a chat model's GGUF
        # names no pooling, and "none" is refused there).
        p.pooling_type = llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    p.model_alias = {args.alias or os.path.basename(args.model)}

    try:
        server = Server(p)
    except Exception as e:  # port in use, unreadable GGUF, out of memory...
        die(1, f"server failed to start ({e}); see llama.cpp's log above")

    # A signal may land on any of llama.cpp's threads, so the main thread sleeps on the wakeup fd
    # rather than in Python code that only the main thread's signals would interrupt.
    got = []
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _f: got.append(signal.Signals(n).name))
    name = next(iter(p.model_alias))
    threads = args.threads if args.threads > 0 else "auto"
    print(f"{ME}: ready on {server.listening_address} model={name} slots={args.slots} "
          f"ctx={args.ctx} ({args.ctx // args.slots}/slot) threads={threads} "
          f"xllamacpp={__version__}", file=sys.stderr, flush=True)
    while not got:
        select.select([wake_r], [], [])
        os.read(wake_r, 64)
    # Exit at once: releasing the Server object would wait (holding the GIL) for every open
    # HTTP connection, i.e. for clients of in-flight requests to give up. The kernel closes the
    # listening socket and cuts those streams (no `data: [DONE]`).
    print(f"{ME}: {got[0]}, exiting", file=sys.stderr, flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
