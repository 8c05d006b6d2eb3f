#!/usr/bin/env python3
"""Copies benches/compare/latest.md into README.md between the comparison markers."""
import os
import re

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
readme = os.path.join(root, "README.md")
with open(os.path.join(root, "benches", "compare", "latest.md")) as f:
    table = f.read().replace("## Latest comparison\n", "").strip()
with open(readme) as f:
    text = f.read()
text = re.sub(r"<!-- comparison:begin -->.*<!-- comparison:end -->",
              lambda _: "<!-- comparison:begin -->\n" + table + "\n<!-- comparison:end -->",
              text, flags=re.S)
with open(readme, "w") as f:
    f.write(text)
