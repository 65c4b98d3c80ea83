#!/usr/bin/env python3
"""tools/check-deps.py - the engine's modules depend on each other one way.

A module is a header and the sources that implement it (engine/req.h and
engine/req.c; engine/os.h and engine/os_posix.c, engine/os_win.c). Module A
depends on module B if a file of A includes B's header, or if an object of
A calls (links against) a function defined in an object of B - the second
graph comes from `nm` on the built objects, so a call through a forward
declaration that no header shows is caught too. A callback passed by
pointer (the pool's run and done) is not a dependency: that is how a lower
module hands work back up without knowing who is above it. Neither is the
backend trait: the engine reaches a backend only through its ops table
(engine/backend.h, mapio__<be>_ops, or the direct entry points
mapio__<be>_<op> a single-backend build calls), which the backend fills in;
the backend depends on the engine, the engine on the contract alone.

Fails, printing every cycle, if the graph over engine/ and backends/ has one.
With --order, prints the modules bottom to top.

usage: tools/check-deps.py SOURCE_ROOT BUILD_DIR [--order]
"""
import json
import os
import re
import subprocess
import sys

SCOPES = ("engine/", "backends/")
# Sources whose module is not their own name.
IMPLEMENTS = {
    "engine/setup.c": "engine/engine",
    "engine/alloc.c": "engine/common",
    "engine/errno.c": "api/mapio/errno",
    "engine/lifecycle.c": "engine/engine",
    "engine/copypool.c": "engine/engine",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
TRAIT_OP = re.compile(r"^\s*X\((\w+),", re.M)


def trait_symbols(root):
    """The names the trait generates for every backend: mapio__<be>_ops and
    mapio__<be>_<op> for each op in MAPIO_BACKEND_OPS."""
    text = open(os.path.join(root, "engine/backend.h"), encoding="utf-8").read()
    ops = TRAIT_OP.findall(text[text.index("#define MAPIO_BACKEND_OPS(X)"):])
    return re.compile(r"^mapio__[a-z0-9]+_(ops|" + "|".join(ops) + r")$")


def module_of(path):
    if path in IMPLEMENTS:
        return IMPLEMENTS[path]
    stem = os.path.splitext(path)[0]
    return re.sub(r"_(posix|win)$", "", stem)


def resolve(root, including, name):
    for base in (os.path.dirname(including), "", "api"):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.exists(os.path.join(root, cand)):
            return cand
    return None  # mapio_config.h and other generated headers


def include_edges(root):
    edges = {}
    for scope in SCOPES:
        for dirpath, _, names in os.walk(os.path.join(root, scope)):
            for n in names:
                if not n.endswith((".c", ".h")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, n), root)
                text = open(os.path.join(root, path), encoding="utf-8").read()
                src = module_of(path)
                for inc in INCLUDE.findall(text):
                    target = resolve(root, path, inc)
                    if target is not None:
                        dst = module_of(target)
                        if dst != src:
                            edges.setdefault(src, {}).setdefault(dst, f"{path} includes {inc}")
    return edges


def call_edges(root, build):
    commands = json.load(open(os.path.join(build, "compile_commands.json")))
    objects = {}
    for c in commands:
        src = os.path.relpath(os.path.normpath(os.path.join(c["directory"], c["file"])), root)
        if src.startswith(SCOPES) or src.startswith("mmap/"):
            objects[os.path.join(c["directory"], c["output"])] = src
    defined, wanted = {}, {}
    for obj, src in objects.items():
        if not os.path.exists(obj):
            continue
        out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[0].startswith("mapio_"):
                continue
            sym, kind = parts[0], parts[1]
            if kind == "U":
                wanted.setdefault(src, set()).add(sym)
            elif kind in "TDBR":
                defined[sym] = src
    trait = trait_symbols(root)
    edges = {}
    for src, syms in wanted.items():
        for sym in syms:
            if sym in defined and not trait.match(sym):
                a, b = module_of(src), module_of(defined[sym])
                if a != b:
                    edges.setdefault(a, {}).setdefault(b, f"{src} calls {sym} ({defined[sym]})")
    return edges


def in_scope(m):
    return m.startswith(("engine/", "backends/"))


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def order(graph, nodes):
    done, seq = set(), []

    def visit(v):
        if v in done:
            return
        done.add(v)
        for w in sorted(graph.get(v, {})):
            visit(w)
        seq.append(v)

    for v in sorted(nodes):
        visit(v)
    return seq


def selftest():
    """The checker checks: a planted cycle is found, a DAG passes."""
    dag = {"a": {"b": ""}, "b": {"c": ""}}
    loop = {"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}}
    assert cycles(dag) == [] and cycles(loop) == [["a", "b", "c"]]
    assert order(dag, {"a", "b", "c"}) == ["c", "b", "a"]
    return 0


def main():
    if sys.argv[1:2] == ["--selftest"]:
        return selftest()
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root, build = sys.argv[1], sys.argv[2]
    graph = {}
    for edges in (include_edges(root), call_edges(root, build)):
        for a, targets in edges.items():
            for b, why in targets.items():
                if in_scope(a) and in_scope(b):
                    graph.setdefault(a, {}).setdefault(b, why)
    nodes = set(graph) | {b for t in graph.values() for b in t}
    bad = cycles(graph)
    for comp in bad:
        print("check-deps: cycle between " + ", ".join(comp))
        for a in comp:
            for b, why in sorted(graph.get(a, {}).items()):
                if b in comp:
                    print(f"  {a} -> {b}: {why}")
    if "--order" in sys.argv[3:]:
        for m in order(graph, nodes):
            deps = ", ".join(sorted(graph.get(m, {})))
            print(f"{m}: {deps}")
    if bad:
        return 1
    print(f"check-deps: {len(nodes)} modules of engine/ and backends/, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
