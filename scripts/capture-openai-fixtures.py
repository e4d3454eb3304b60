#!/usr/bin/env python3
"""Record real llama.cpp server answers (xllamacpp + the tiny model) as test fixtures.

    .venv/bin/python scripts/capture-openai-fixtures.py Tests/Fixtures/openai

Why: the Swift OpenAI-compatible client is tested against these bytes instead of a live server.
Builds the tiny model (scripts/make-tiny-gguf.py) in a temp dir, starts
scripts/xllamacpp-server.py on a free 127.0.0.1 port, sends the requests listed in REQUESTS,
writes each body verbatim to OUTDIR/<file>, and prints a Markdown table (file, request, status,
content-type) for OUTDIR/README.md. Every wait is bounded; the server is always stopped.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHAT = [{"role": "user", "content": "Tell me about the river"}]
USAGE = {"include_usage": True}
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["city", "count"],
          "properties": {"city": {"type": "string", "maxLength": 24}, "count": {"type": "integer", "minimum": 0, "maximum": 99}}}
LONG = " ".join(["the river"] * 700)  # ~1400 tokens, more than a 1024-token slot
# (file, method, path, body)
REQUESTS = [
    ("health.json", "GET", "/health", None),
    ("models.json", "GET", "/v1/models", None),
    ("chat-nostream.json", "POST", "/v1/chat/completions",
     {"model": "tiny", "messages": CHAT, "max_tokens": 8, "temperature": 0}),
    ("chat-stream.sse", "POST", "/v1/chat/completions",
     {"model": "tiny", "messages": CHAT, "max_tokens": 8, "temperature": 0, "stream": True,
      "stream_options": USAGE}),
    ("chat-stream-nousage.sse", "POST", "/v1/chat/completions",
     {"model": "tiny", "messages": CHAT, "max_tokens": 4, "temperature": 0, "stream": True}),
    ("completion-nostream.json", "POST", "/v1/completions",
     {"model": "tiny", "prompt": "The river", "max_tokens": 8, "temperature": 0}),
    ("completion-stream.sse", "POST", "/v1/completions",
     {"model": "tiny", "prompt": "The river", "max_tokens": 8, "temperature": 0, "stream": True,
      "stream_options": USAGE}),
    ("chat-json-schema.json", "POST", "/v1/chat/completions",
     {"model": "tiny", "messages": CHAT, "max_tokens": 100, "temperature": 0,
      "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}}),
    ("unknown-model.json", "POST", "/v1/chat/completions",
     {"model": "no-such-model", "messages": CHAT, "max_tokens": 4, "temperature": 0}),
    ("error-exceed-context.json", "POST", "/v1/chat/completions",
     {"model": "tiny", "messages": [{"role": "user", "content": LONG}], "max_tokens": 4,
      "stream": True, "stream_options": USAGE}),
    ("error-missing-messages.json", "POST", "/v1/chat/completions", {"model": "tiny", "max_tokens": 4}),
    ("error-bad-type.json", "POST", "/v1/chat/completions",
     {"model": "tiny", "messages": CHAT, "max_tokens": "eight"}),
    ("error-not-found.json", "GET", "/v1/nothing", None),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    res = conn.getresponse()
    raw = res.read()
    conn.close()
    return res.status, res.getheader("Content-Type", ""), raw


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: capture-openai-fixtures.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rows = []

    def save(name, status, ctype, raw, request):
        with open(os.path.join(out, name), "wb") as f:
            f.write(raw)
        rows.append(f"| `{name}` | {request} | {status} | `{ctype}` |")

    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "tiny.gguf")
        subprocess.run([sys.executable, os.path.join(HERE, "make-tiny-gguf.py"), model], check=True)
        port = free_port()
        log = open(os.path.join(tmp, "server.log"), "w")
        server = subprocess.Popen([sys.executable, os.path.join(HERE, "xllamacpp-server.py"),
                                   "--model", model, "--port", str(port), "--slots", "2",
                                   "--threads", "2", "--ctx", "2048", "--alias", "tiny"],
                                  stderr=log)
        try:
            loading = None
            deadline = time.time() + 60
            while True:  # poll /health every 5 ms; keep the first answer given while loading
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("capture: server did not become ready; log: " + open(log.name).read())
                try:
                    status, ctype, raw = call(port, "GET", "/health", None, timeout=2)
                except OSError:
                    time.sleep(0.005)
                    continue
                if status == 200:
                    break
                loading = loading or (status, ctype, raw)
                time.sleep(0.005)
            if loading:
                save("health-loading.json", *loading, "`GET /health` while the model loads")
            for name, method, path, body in REQUESTS:
                status, ctype, raw = call(port, method, path, body)
                request = f"`{method} {path}`" + (f" `{json.dumps(body)}`" if body and len(json.dumps(body)) < 400
                                                  else " (long prompt: 'the river' x 700)" if body else "")
                save(name, status, ctype, raw, request)
            # A stream cut by the server going away: SIGTERM after the first events.
            body = {"model": "tiny", "messages": CHAT, "max_tokens": 1000, "temperature": 0,
                    "stream": True, "stream_options": USAGE}
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            res = conn.getresponse()
            got = b""
            while got.count(b"\n\n") < 3:
                got += res.read1(65536)  # read1 undoes the chunked transfer encoding
            server.send_signal(signal.SIGTERM)
            try:
                got += res.read()
            except http.client.IncompleteRead as e:
                got += e.partial
            except OSError:
                pass
            conn.close()
            save("chat-stream-cut.sse", res.status, res.getheader("Content-Type", ""), got,
                 f"`POST /v1/chat/completions` `{json.dumps(body)}`, server sent SIGTERM after 3 events")
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
    import xllamacpp
    print(f"xllamacpp {xllamacpp.__version__}\n")
    print("| file | request | HTTP status | Content-Type |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
