#!/usr/bin/env python3
"""The Python programs scripts/bench measures Caravan against, one per mode.

Each mode prints one JSON object on stdout. Times are measured inside the process, from the
first request sent to the last answer written, and `cpu_s` is this process's user + system CPU
over the same span (its interpreter start and imports are left out, in the peer's favour).

    python benchmarks/peers.py tutorial    --url URL --prompts FILE --out FILE
    python benchmarks/peers.py asyncclient --url URL --prompts FILE --out FILE --slots S
    python benchmarks/peers.py openai      --url URL --prompts FILE --out FILE --slots S --model M --max-tokens N
    python benchmarks/peers.py readiness   --sim PATH --port P --wait sleep|poll --listening-file FILE
    python benchmarks/peers.py duckdb      --run-dir DIR --out FILE

The prompt file is Caravan's JSONL (`{"id", "messages"}` lines); every answer is appended to
--out as one JSON line, as a ten-minute script would keep it.
"""
import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def read_prompts(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def tutorial(args):
    """The tutorial's loop: `ollama.chat` for one prompt after another."""
    import ollama
    client = ollama.Client(host=args.url)
    prompts = read_prompts(args.prompts)
    out = open(args.out, "w")
    cpu0, start = cpu_seconds(), time.perf_counter()
    for prompt in prompts:
        answer = client.chat(model=args.model, messages=prompt["messages"])
        out.write(json.dumps({"id": prompt["id"], "response": answer["message"]["content"]}) + "\n")
    out.flush()
    return {"seconds": time.perf_counter() - start, "cpu_s": cpu_seconds() - cpu0, "requests": len(prompts)}


def asyncclient(args):
    """`ollama.AsyncClient`, streamed, with an asyncio semaphore of S requests in flight."""
    import ollama

    async def main():
        client = ollama.AsyncClient(host=args.url)
        prompts = read_prompts(args.prompts)
        out = open(args.out, "w")
        semaphore = asyncio.Semaphore(args.slots)

        async def one(prompt):
            async with semaphore:
                text = ""
                async for part in await client.chat(model=args.model, messages=prompt["messages"], stream=True):
                    text += part["message"]["content"]
                out.write(json.dumps({"id": prompt["id"], "response": text}) + "\n")

        cpu0, start = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(one(p) for p in prompts))
        out.flush()
        return {"seconds": time.perf_counter() - start, "cpu_s": cpu_seconds() - cpu0, "requests": len(prompts)}

    return asyncio.run(main())


def openai_client(args):
    """`openai.AsyncOpenAI`, streamed with usage, S requests in flight: generated tokens/s."""
    import openai

    async def main():
        client = openai.AsyncOpenAI(base_url=args.url.rstrip("/") + "/v1", api_key="none")  # its default retries, as a script would have them
        prompts = read_prompts(args.prompts)
        out = open(args.out, "w")
        semaphore = asyncio.Semaphore(args.slots)
        tokens = 0

        async def one(prompt):
            nonlocal tokens
            async with semaphore:
                text, used = "", 0
                stream = await client.chat.completions.create(
                    model=args.model, messages=prompt["messages"], max_tokens=args.max_tokens, temperature=0,
                    stream=True, stream_options={"include_usage": True})
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        text += chunk.choices[0].delta.content
                    if chunk.usage:
                        used = chunk.usage.completion_tokens
                tokens += used
                out.write(json.dumps({"id": prompt["id"], "response": text, "tokens": used}) + "\n")

        cpu0, start = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(one(p) for p in prompts))
        out.flush()
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "cpu_s": cpu_seconds() - cpu0, "requests": len(prompts), "tokens": tokens,
                "tokens_per_s": tokens / seconds}

    return asyncio.run(main())


def readiness(args):
    """Starts the simulator, waits as a script would (`sleep 5`, or polling GET / every 2 s), and
    sends the first request: how long after the server began answering that request left."""
    import ollama
    if os.path.exists(args.listening_file):
        os.remove(args.listening_file)
    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([args.sim, "--host", f"127.0.0.1:{args.port}", "--load-ms", "0", "--listening-file", args.listening_file],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if args.wait == "sleep":
            time.sleep(5)
        else:
            while True:
                try:
                    with urllib.request.urlopen(url + "/", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                time.sleep(2)
        sent = time.time()
        ollama.Client(host=url).chat(model="sim", messages=[{"role": "user", "content": "hello"}])
        listening = float(open(args.listening_file).read())
        return {"readiness_ms": (sent - listening) * 1000}
    finally:
        server.terminate()
        server.wait()


def duckdb_sort(args):
    """DuckDB: every shard file's records, sorted by seq, written back as JSON Lines."""
    import duckdb
    start = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(
        f"COPY (SELECT * FROM read_json_auto('{args.run_dir}/results/shard-*.jsonl') ORDER BY seq) "
        f"TO '{args.out}' (FORMAT JSON)")
    return {"seconds": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["tutorial", "asyncclient", "openai", "readiness", "duckdb"])
    parser.add_argument("--url")
    parser.add_argument("--prompts")
    parser.add_argument("--out")
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--model", default="sim")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--sim")
    parser.add_argument("--port", type=int)
    parser.add_argument("--wait", choices=["sleep", "poll"])
    parser.add_argument("--listening-file")
    parser.add_argument("--run-dir")
    args = parser.parse_args()
    modes = {"tutorial": tutorial, "asyncclient": asyncclient, "openai": openai_client, "readiness": readiness, "duckdb": duckdb_sort}
    print(json.dumps(modes[args.mode](args)))


if __name__ == "__main__":
    sys.exit(main())
