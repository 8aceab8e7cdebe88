#!/usr/bin/env python3
"""ctest "docs_render": every Markdown file of the repository still reads as Markdown.

A code formatter once ran over docs/scripts.md and left "##Slicing and killing",
"every 1,\\n 000 VM instructions" and "| -- - | -- - |" in it; nothing noticed. This
checks, for every tracked *.md file:
- fenced code blocks are closed;
- a heading has a space after its #'s (outside code blocks);
- every table has a delimiter row of --- cells right under its header, and every row has
  the header's number of cells (pipes inside code spans and escaped pipes excepted);
- every relative link and image resolves to a file in the repository (anchors ignored);
- no line looks like a C++ formatter's work on prose (a line that is only "- -", a
  delimiter cell written "-- -");
and that no formatter is pointed at Markdown: the style targets format *.cpp and *.hpp
only. Prints one line per problem and "N passed, N failed".
"""
import os
import re
import subprocess
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
files = subprocess.run(["git", "-C", root, "ls-files", "*.md"], capture_output=True, text=True,
                       check=True).stdout.split()
problems = []


def cells(row):
    """The cells of a table row: pipes in code spans and escaped pipes do not split."""
    out, cur, in_code, i = [], "", False, 0
    body = row.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cur += body[i:i + 2]
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    out.append(cur)
    return out


link_re = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")

for rel in files:
    path = os.path.join(root, rel)
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fence = None
    table_cols = None
    table_start = 0
    for n, line in enumerate(lines, 1):
        where = f"{rel}:{n}"
        stripped = line.strip()
        if fence is None and re.match(r"^\s*(```|~~~)", line):
            fence = stripped[:3]
            table_cols = None
            continue
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        if re.match(r"^#{1,6}[^#\s]", stripped):
            problems.append(f"{where}: a heading needs a space after its #'s: {stripped[:60]}")
        if re.search(r"\|\s*-- -\s*\|", line) or stripped in ("- -", "-- -"):
            problems.append(f"{where}: looks formatted as code: {stripped[:60]}")
        if stripped.startswith("|"):
            row = cells(stripped)
            if table_cols is None:
                table_cols = len(row)
                table_start = n
                nxt = lines[n] if n < len(lines) else ""
                delim = cells(nxt.strip()) if nxt.strip().startswith("|") else []
                if not delim or not all(re.match(r"^\s*:?-{3,}:?\s*$", c) for c in delim):
                    problems.append(f"{where}: a table header must be followed by a |---| delimiter row")
            elif len(row) != table_cols:
                problems.append(f"{where}: {len(row)} cells in a table whose header (line {table_start}) has {table_cols}")
        else:
            table_cols = None
        for target in link_re.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same file
            file_part = target.split("#", 1)[0]
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            if not os.path.exists(resolved):
                problems.append(f"{where}: the link target {target} does not exist")
            elif not resolved.startswith(root + os.sep) and resolved != root:
                problems.append(f"{where}: the link target {target} is outside the repository")
    if fence is not None:
        problems.append(f"{rel}: a fenced code block is never closed")

# No formatter is pointed at Markdown.
with open(os.path.join(root, "Makefile"), encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        if "clang-format" in line and ".md" in line:
            problems.append(f"Makefile:{n}: clang-format is given Markdown files")

for p in problems:
    print("FAIL:", p)
checked = len(files)
if problems:
    print(f"0 passed, 1 failed ({len(problems)} problems in {checked} Markdown files)")
    sys.exit(1)
print(f"every one of {checked} Markdown files renders: tables, headings, fences, links")
print("1 passed, 0 failed")
