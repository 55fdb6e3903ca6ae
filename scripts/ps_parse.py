#!/usr/bin/env python3
"""Parse a PowerShell script with tree-sitter's PowerShell grammar (an independent parser: no
PowerShell runtime is needed) and print what altgate's tests check, as JSON on stdout:

  {"errors": [[row, column, text], ...],       # syntax errors and missing tokens
   "hashes": [{"key": "value", ...}, ...],     # every @{...} literal whose values are strings
   "commands": [["Name", ["-Param", "arg", ...]], ...]}

Single-quoted strings are read back with PowerShell's rules (two quote characters stand for one;
the quote characters are ' and the typographic U+2018..U+201B). Reads the script on stdin."""
import json
import sys

import tree_sitter
import tree_sitter_powershell

QUOTES = "'\u2018\u2019\u201a\u201b"


def verbatim(text):
    """A single-quoted string's value, or None when `text` is not one."""
    if len(text) < 2 or text[0] not in QUOTES or text[-1] not in QUOTES:
        return None
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c in QUOTES:
            if i + 1 < len(body) and body[i + 1] in QUOTES:
                out.append(c)
                i += 2
                continue
            return None  # a lone quote cannot stand inside a single-quoted string
        out.append(c)
        i += 1
    return "".join(out)


def main():
    src = sys.stdin.buffer.read()
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(src)
    text = lambda n: src[n.start_byte:n.end_byte].decode("utf-8")
    errors, hashes, commands = [], [], []

    def leaf_string(n):
        """The value of the one string literal `n` reduces to, else None."""
        while n.named_child_count == 1 and n.type != "string_literal":
            n = n.named_children[0]
        return verbatim(text(n)) if n.type == "string_literal" else None

    def walk(n):
        if n.type == "ERROR" or n.is_missing:
            errors.append([n.start_point[0], n.start_point[1], text(n)[:80]])
        if n.type == "hash_literal_body":
            entries = {}
            for e in n.named_children:
                if e.type != "hash_entry" or e.named_child_count < 2:
                    continue
                key_node, value_node = e.named_children[0], e.named_children[-1]
                key = leaf_string(key_node)
                key = key if key is not None else text(key_node).strip()
                entries[key] = leaf_string(value_node)
            hashes.append(entries)
        if n.type == "command":
            name = next((text(c) for c in n.named_children if c.type == "command_name"), "")
            args = []
            for c in n.named_children:
                if c.type == "command_elements":
                    for a in c.named_children:
                        if not text(a).strip():
                            continue
                        v = leaf_string(a)
                        args.append(v if v is not None else text(a))
            commands.append([name, args])
        for c in n.children:
            walk(c)

    walk(tree.root_node)
    json.dump({"errors": errors, "hashes": hashes, "commands": commands}, sys.stdout)


if __name__ == "__main__":
    main()
