#!/usr/bin/env python3
"""Peak memory of `caravan collect` as the number of records grows.

Writes synthetic run directories of 10k, 100k and 1M records (the layout `caravan submit` and
the worker write: manifest, shard files, results appended out of order with some retried
records), runs `caravan collect` on each in a child process, and prints the child's peak RSS
side by side with its ratio to the smallest run. A flat merge keeps the ratio near 1.

    python3 benchmarks/collect_memory.py [--caravan .build/release/caravan] [--sizes 10000,100000,1000000]
"""
import argparse, json, os, random, resource, shutil, subprocess, sys, tempfile, time

def write_run(root, records, shards=4):
    os.makedirs(root + "/shards"); os.makedirs(root + "/results"); os.makedirs(root + "/logs")
    variants = [{"name": "t0", "model": "m", "options": {"temperature": 0}, "baseModel": "m"},
                {"name": "t1", "model": "m", "options": {"temperature": 1}, "baseModel": "m"}]
    per = [records // shards + (1 if i < records % shards else 0) for i in range(shards)]
    manifest = {"schema": 1, "name": "bench", "run_id": "bench-1", "created_at": "2026-01-01T00:00:00Z",
                "caravan_version": "bench", "spec_file": "/dev/null", "total_items": records,
                "shards": [{"index": i, "items": n} for i, n in enumerate(per)], "variants": variants}
    json.dump(manifest, open(root + "/manifest.json", "w"))
    spec = {"name": "bench", "model": "m", "prompts": "p", "repeats": 3, "output": ".", "engine": {"kind": "sim", "parallel": 4, "env": {}, "ready_timeout": 600},
            "variants": [], "sweep": [], "slurm": {"shards": shards, "gpus_per_node": 1, "setup": [], "extra": [], "grace": 120},
            "container": {"runtime": "none", "flags": [], "binds": []}}
    json.dump(spec, open(root + "/spec.resolved.json", "w"))
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    seq = 0
    for shard, n in enumerate(per):
        items, results = [], []
        for k in range(n):
            pid, rest = divmod(seq, 6)
            variant, rep = variants[rest // 3]["name"], rest % 3 + 1
            items.append(json.dumps({"seq": seq, "id": f"p{pid}", "variant": variant, "repeat": rep, "model": "m",
                                     "input": {"prompt": "question"}, "options": {}}, sort_keys=True))
            text = " ".join(rng.choice(words) for _ in range(40))
            rec = {"seq": seq, "id": f"p{pid}", "variant": variant, "repeat": rep, "model": "m", "options": {},
                   "status": "ok", "response": text, "error": None, "done_reason": "stop", "total_duration": 1000000,
                   "load_duration": 10, "prompt_eval_count": 5, "prompt_eval_duration": 1000, "eval_count": 40,
                   "eval_duration": 900000, "wall_ms": 1.5, "ttft_ms": 0.2, "node": f"n{shard % 2 + 1}", "shard": shard,
                   "attempts": 1, "job_id": "1_0", "finished_at": "2026-01-01T00:00:00Z"}
            results.append(json.dumps(rec, sort_keys=True))
            if rng.random() < 0.01:  # a retried item: an earlier error record too
                err = dict(rec, status="error", response=None, error="HTTP 503")
                results.append(json.dumps(err, sort_keys=True))
            seq += 1
        rng.shuffle(results)  # workers finish out of order
        open(f"{root}/shards/shard-{shard:04d}.jsonl", "w").write("\n".join(items) + "\n")
        open(f"{root}/results/shard-{shard:04d}.jsonl", "w").write("\n".join(results) + "\n")

def peak_rss_kib(command):
    """Runs command in a fresh child and returns (seconds, its peak RSS in KiB).

    Linux counts the forked copy of this process in the child's ru_maxrss, so this process must
    stay small: the runs are generated in a separate process (see main)."""
    start = time.time()
    pid = os.fork()
    if pid == 0:
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(command)} exited {status}")
    return time.time() - start, usage.ru_maxrss

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--caravan", default=".build/debug/caravan")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--generate", nargs=2, metavar=("ROOT", "RECORDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        write_run(args.generate[0], int(args.generate[1]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    base = tempfile.mkdtemp(prefix="caravan-bench-")
    rows = []
    try:
        for size in sizes:
            root = f"{base}/run-{size}"
            subprocess.run([sys.executable, __file__, "--generate", root, str(size)], check=True)
            seconds, rss = peak_rss_kib([args.caravan, "collect", root])
            lines = sum(1 for _ in open(root + "/results.jsonl"))
            if lines != size:
                sys.exit(f"collect wrote {lines} lines for {size} records")
            rows.append((size, rss, seconds))
            shutil.rmtree(root)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{'records':>10} {'peak RSS MiB':>13} {'ratio':>7} {'seconds':>8}")
    for size, rss, seconds in rows:
        print(f"{size:>10} {rss / 1024:>13.1f} {rss / rows[0][1]:>7.2f} {seconds:>8.1f}")

if __name__ == "__main__":
    main()
