#!/bin/bash
# Fuzzes Caravan's parsers with libFuzzer: scripts/fuzz.sh [--minutes N] [target...]
#
#   fuzz-spec       a job spec's bytes -> SpecText checks, SpecParser + SpecValidator, plan checks, plan
#   fuzz-prompts    a prompt file's bytes -> PromptFile (JSONL, OpenAI batch, plain text)
#   fuzz-modelfile  a Modelfile's bytes -> Modelfile.parse and its create request
#   fuzz-stream-lines  a streamed answer (Ollama NDJSON, OpenAI SSE) -> the Core decoding of each line
#   fuzz-json       any bytes -> FastJSON, which must agree with JSONDecoder wherever it reads a value,
#                   and the hand-written line of that value, which must be JSONEncoder's
#
# The targets live in Fuzz/ and exist only when CARAVAN_FUZZ=1 (Package.swift), built here with
# --sanitize=fuzzer into .build-fuzz, so `swift build` and the tests never compile them. Seeds
# come from Tests/Fixtures and jobs/; the corpus grows in .build-fuzz/corpus/<target>, and
# crashes, timeouts and out-of-memory inputs land in .build-fuzz/crashes/<target>. Each target
# runs for N minutes (default 10), one after another, and ends with one line:
#   fuzz-spec: 600 s, 1234567 runs, 2057 exec/s, corpus 812, crashes 0
# The exit status is 1 if any target left a crash file.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --minutes=*) minutes="${1#*=}"; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    fuzz-*) targets+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument '$1' (targets: fuzz-spec fuzz-prompts fuzz-modelfile fuzz-stream-lines fuzz-json)" >&2; exit 64 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-spec fuzz-prompts fuzz-modelfile fuzz-stream-lines fuzz-json)

build=.build-fuzz
for target in "${targets[@]}"; do
  CARAVAN_FUZZ=1 swift build -c release --build-path "$build" --sanitize=fuzzer --product "$target"
done
bin="$(CARAVAN_FUZZ=1 swift build -c release --build-path "$build" --sanitize=fuzzer --show-bin-path)"

# Seeds: every spec and prompt file in the fixtures and examples, and the Modelfiles in them.
seed() {
  local target=$1 dir=$build/seeds/$1
  rm -rf "$dir"; mkdir -p "$dir"
  case "$target" in
    fuzz-spec)
      find Tests/Fixtures jobs -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) ! -name manifest.json -size -64k |
        while read -r f; do cp "$f" "$dir/$(echo "$f" | tr '/' '_')"; done ;;
    fuzz-prompts)
      # The first byte picks the form (PromptFile's file name): 0 Caravan JSONL, 1 plain text.
      find Tests/Fixtures jobs -type f \( -name '*.jsonl' -o -name 'prompts*.txt' \) -size -64k |
        while read -r f; do
          case "$f" in *.txt) printf '\001' ;; *) printf '\000' ;; esac >"$dir/$(echo "$f" | tr '/' '_')"
          cat "$f" >>"$dir/$(echo "$f" | tr '/' '_')"
        done ;;
    fuzz-modelfile)
      # The indented block under each `modelfile: |`.
      find Tests/Fixtures jobs -type f -name '*.yaml' | while read -r f; do
        awk -v out="$dir/$(echo "$f" | tr '/' '_')" '
          /modelfile: \|/ { inblock = 1; n++; indent = -1; next }
          inblock {
            match($0, /^ */); if ($0 ~ /^ *$/) { print "" >> (out "-" n); next }
            if (indent < 0) indent = RLENGTH
            if (RLENGTH < indent) { inblock = 0; next }
            print substr($0, indent + 1) >> (out "-" n)
          }' "$f"
      done
      printf 'FROM llama3.2\nPARAMETER stop "<|eot_id|>"\nPARAMETER num_ctx 4096\nSYSTEM """Be\nbrief."""\nMESSAGE user hi\nMESSAGE assistant "hello"\nTEMPLATE {{ .Prompt }}\nLICENSE MIT\n' >"$dir/handwritten" ;;
    fuzz-stream-lines)
      # Ollama's and OpenAI-compatible servers' own wire examples.
      find Tests/Fixtures/ollama Tests/Fixtures/openai -type f ! -name README.md |
        while read -r f; do cp "$f" "$dir/$(echo "$f" | tr '/' '_')"; done ;;
    fuzz-json)
      # One JSON value a file: each line of the wire examples and of the prompt files.
      find Tests/Fixtures/ollama Tests/Fixtures/openai Tests/Fixtures jobs -type f -name '*.json*' -size -64k |
        while read -r f; do split -l 1 -a 4 "$f" "$dir/$(echo "$f" | tr '/' '_')-"; done ;;
  esac
}

failed=0
for target in "${targets[@]}"; do
  seed "$target"
  corpus=$build/corpus/$target crashes=$build/crashes/$target log=$build/logs/$target.log
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  seconds=$((minutes * 60))
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: 2 GB is a memory bug here.
  dict=(); [ "$target" != fuzz-spec ] || dict=(-dict=Fuzz/spec.dict)  # the spec's keys and values, so YAML that parses comes sooner
  started=$SECONDS
  # libFuzzer stops at the first crash or timeout, so the time it ran may be less than asked.
  "$bin/$target" "$corpus" "$build/seeds/$target" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1 || failed=1
  elapsed=$((SECONDS - started))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  found=$(find "$crashes" -type f | wc -l)
  echo "$target: $elapsed s, ${runs:-?} runs, ${rate:-?} exec/s, corpus $(find "$corpus" -type f | wc -l), crashes $found (log $log)"
  [ "$found" -eq 0 ] || failed=1
done
exit "$failed"
