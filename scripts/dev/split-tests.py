#!/usr/bin/env python3
"""Moves an inline `#[cfg(test)] mod tests { ... }` at the end of a Rust file
into `<module>/tests.rs`, leaving `#[cfg(test)] mod tests;` behind, so unit
tests live in files next to the code as the project's conventions ask."""
import os
import sys

for path in sys.argv[1:]:
    src = open(path).read()
    marker = "#[cfg(test)]\nmod tests {\n"
    at = src.find(marker)
    if at < 0:
        continue
    body = src[at + len(marker):].rstrip()
    assert body.endswith("}"), path
    body = body[:-1]
    lines = [l[4:] if l.startswith("    ") else l for l in body.split("\n")]
    base, _ = os.path.splitext(path)
    if os.path.basename(base) in ("lib", "main", "mod"):
        base = os.path.dirname(base)
    os.makedirs(base, exist_ok=True)
    module = os.path.basename(base)
    text = "\n".join(lines).strip("\n") + "\n"
    with open(os.path.join(base, "tests.rs"), "w") as f:
        f.write(f"//! Unit tests for the `{module}` module.\n\n" + text)
    with open(path, "w") as f:
        f.write(src[:at] + "#[cfg(test)]\nmod tests;\n")
    print("split", path)
