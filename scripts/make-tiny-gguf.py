#!/usr/bin/env python3
"""Write a tiny, deterministic, random-weight llama GGUF for Caravan's end-to-end tests.

    python3 scripts/make-tiny-gguf.py OUT.gguf

Why: tests need a real llama.cpp server (xllamacpp) answering the OpenAI endpoints, but a real
model is ~100 MB and slow on CI's CPUs. This model is ~0.65 MB, loads in milliseconds and decodes
thousands of tokens/s. Its answers are nonsense, but they are made of readable English words.

Shape: llama architecture, 2 layers, width 64, 4 heads, FFN 128, all F32, weights from a fixed
numpy seed, so every run writes the same bytes. Tokenizer: GPT-2 style byte-level BPE
("gpt2"/"gpt-2"): the 256 byte tokens, one token per word of WORDS (" word", built by a
chain of merges), and the ChatML special tokens; chat template: ChatML.

How the output stays readable: dimension 0 of every embedding is a constant, which no layer
writes to, so after the final RMS norm it acts as a bias input. The output rows of byte tokens,
special tokens and EOS weight it with -BIAS, so the model only ever emits words and ". ,".
Consequences: generation never ends by itself (finish_reason "length", or "stop" through a
`stop` string), temperature 0 is a plain argmax (deterministic), and word logits have a spread
of a few units, so sampling at temperature >= 1 varies from request to request.
"""
import sys

import numpy as np
import gguf

SEED = 1234
N_EMBD, N_FF, N_LAYER, N_HEAD, N_HEAD_KV, N_CTX = 64, 128, 2, 4, 4, 4096
CONST = 4.0       # the constant embedding dimension 0 (the bias input)
BIAS = 20.0       # how strongly non-word tokens are pushed down (logit ~ -BIAS * 3)
WORD_SCALE = 0.4  # spread of word logits: std ~ WORD_SCALE * 7.5 ~ 3
PUNCT_BIAS = 0.4  # "." and "," a little rarer than words

WORDS = """
the of and to in is was for on that with as by at from it his an were are which this be
has had not but or its one new after first who they have her she two been other when there
all during into school time may years more most only over city some world would where later
up such used many can state about national out known university united then made through
team war area year under while american since these could well between three both season him
york people also including west film their game club few before north south east music
history member like series being them another city company town river field house group
album name long part several high became home four little small great water early large old
village life found church family light world garden morning evening window table letter road
bridge forest mountain island harbour market station library kitchen bread apple orange lemon
coffee tea milk honey salt paper pencil chair door floor wall roof stone sand snow rain wind
cloud sun moon star sky sea lake hill valley field meadow flower tree leaf branch root seed
bird fish horse dog cat mouse fox wolf bear deer rabbit owl eagle swan duck goose sheep goat
cow pig lion tiger whale dolphin shark turtle frog snake bee ant butterfly spider red blue
green yellow white black brown grey purple pink silver golden quiet loud bright dark warm cold
soft hard quick slow happy calm brave clever gentle kind proud wise young ancient modern simple
strange busy empty full open closed near far deep shallow wide narrow sweet bitter fresh
walk run jump swim fly sing read write draw paint cook bake build carry follow lead watch
listen speak answer ask learn teach travel arrive leave return rest sleep dream remember
forget begin finish open close find keep give take bring send hold move turn stand sit
today tomorrow yesterday always never often sometimes again soon together almost perhaps
very really quite still already because although however therefore meanwhile suddenly
one two three four five six seven eight nine ten hundred thousand dozen
""".split()


def byte_level_alphabet():
    """GPT-2's byte -> printable character map (what llama.cpp's BPE vocab expects)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def vocabulary():
    words = list(dict.fromkeys(WORDS))  # dedupe, keep order
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    byte_tokens = byte_level_alphabet()
    space = byte_tokens[ord(" ")]  # "Ġ"
    word_tokens = [space + w for w in words]
    tokens = specials + byte_tokens + word_tokens
    types = ([gguf.TokenType.CONTROL] * len(specials)
             + [gguf.TokenType.NORMAL] * (len(byte_tokens) + len(word_tokens)))
    merges = []
    for tok in word_tokens:  # "Ġ h" "Ġh e" "Ġhe l" ... builds each word left to right
        for i in range(1, len(tok)):
            merges.append(f"{tok[:i]} {tok[i]}")
    merges = list(dict.fromkeys(merges))
    speakable = set(range(len(tokens) - len(word_tokens), len(tokens)))
    punct = {tokens.index("."), tokens.index(",")}
    return tokens, types, merges, speakable, punct


CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def weights(n_vocab, speakable, punct):
    rng = np.random.default_rng(SEED)
    f32 = np.float32
    head_dim = N_EMBD // N_HEAD

    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(f32)

    t = {}
    emb = normal((n_vocab, N_EMBD), 1.0)
    emb[:, 0] = CONST
    t["token_embd.weight"] = emb
    for i in range(N_LAYER):
        p = f"blk.{i}."
        t[p + "attn_norm.weight"] = np.ones(N_EMBD, f32)
        t[p + "attn_q.weight"] = normal((N_EMBD, N_EMBD), N_EMBD ** -0.5)
        t[p + "attn_k.weight"] = normal((N_HEAD_KV * head_dim, N_EMBD), N_EMBD ** -0.5)
        t[p + "attn_v.weight"] = normal((N_HEAD_KV * head_dim, N_EMBD), N_EMBD ** -0.5)
        wo = normal((N_EMBD, N_EMBD), 0.5 * N_EMBD ** -0.5)
        wo[0, :] = 0  # never write to the bias dimension
        t[p + "attn_output.weight"] = wo
        t[p + "ffn_norm.weight"] = np.ones(N_EMBD, f32)
        t[p + "ffn_gate.weight"] = normal((N_FF, N_EMBD), N_EMBD ** -0.5)
        t[p + "ffn_up.weight"] = normal((N_FF, N_EMBD), N_EMBD ** -0.5)
        down = normal((N_EMBD, N_FF), 0.5 * N_FF ** -0.5)
        down[0, :] = 0
        t[p + "ffn_down.weight"] = down
    t["output_norm.weight"] = np.ones(N_EMBD, f32)
    out = normal((n_vocab, N_EMBD), WORD_SCALE)
    for tok in range(n_vocab):
        if tok in punct:
            out[tok, 0] = -PUNCT_BIAS
        elif tok in speakable:
            out[tok, 0] = 0.0
        else:
            out[tok, :] = 0.0
            out[tok, 0] = -BIAS
    t["output.weight"] = out
    return t


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        sys.exit("usage: make-tiny-gguf.py OUT.gguf")
    tokens, types, merges, speakable, punct = vocabulary()
    w = gguf.GGUFWriter(sys.argv[1], "llama")
    w.add_name("caravan-tiny")
    w.add_description("random-weight test model for Caravan; speaks only English words")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|endoftext|>"))
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.add_eot_token_id(tokens.index("<|im_end|>"))
    w.add_pad_token_id(tokens.index("<|endoftext|>"))
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)
    for name, array in weights(len(tokens), speakable, punct).items():
        w.add_tensor(name, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {sys.argv[1]}: {len(tokens)} tokens, {len(merges)} merges", file=sys.stderr)


if __name__ == "__main__":
    main()
