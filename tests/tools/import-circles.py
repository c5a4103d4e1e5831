#!/usr/bin/env python3
"""Import graph of a crate's files: which file uses items defined in which other file.

Every `use` declaration and every inline `crate::`/`super::`/`self::` path outside comments
is resolved to the file that *defines* the item (following `use`/`pub use` re-exports), so a
facade `mod.rs` that only re-exports does not hide or invent cycles. Prints the strongly
connected components (import circles) of the file graph and of the top-level module graph.

    tests/tools/import-circles.py [SRC_DIR [FOCUS_MODULES]]

SRC_DIR defaults to streams-core/src, FOCUS_MODULES (comma-separated) to the task, context,
topology and processor modules. .ci/run runs it on each crate.
"""
import os, re, sys
from collections import defaultdict

SRC = sys.argv[1] if len(sys.argv) > 1 else "streams-core/src"
FOCUS = sys.argv[2].split(",") if len(sys.argv) > 2 else ["task", "context", "topology", "processor"]

def strip_comments_and_strings(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i); j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j): depth += 1; j += 2
                elif text.startswith("*/", j): depth -= 1; j += 2
                else: j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c == '"' or (c == 'r' and re.match(r'r#*"', text[i:i+10]) and (i == 0 or not (text[i-1].isalnum() or text[i-1] == '_'))):
            m = re.match(r'r(#*)"', text[i:]) if c == 'r' else None
            if m:
                end = '"' + m.group(1); j = text.find(end, i + len(m.group(0)))
                j = n if j < 0 else j + len(end)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == '\\' else 1
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i+4]) :
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:]); j = i + len(m.group(0))
            out.append(" " * (j - i)); i = j
        else:
            out.append(c); i += 1
    return "".join(out)

# ---- module tree -------------------------------------------------------------------------
files = {}  # module path tuple -> file
for dirpath, _, names in os.walk(SRC):
    for name in names:
        if not name.endswith(".rs"): continue
        full = os.path.join(dirpath, name)
        rel = os.path.relpath(full, SRC)[:-3].split(os.sep)
        if rel == ["lib"] or rel == ["main"]: mod = ()
        elif rel[-1] == "mod": mod = tuple(rel[:-1])
        else: mod = tuple(rel)
        files[mod] = full
code = {m: strip_comments_and_strings(open(f).read()) for m, f in files.items()}

def inline_mod_spans(text):
    """(start, end, name) of inline `mod name { ... }` blocks."""
    spans = []
    for m in re.finditer(r"\bmod\s+([A-Za-z_]\w*)\s*\{", text):
        depth, j = 0, m.end() - 1
        while j < len(text):
            if text[j] == "{": depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0: break
            j += 1
        spans.append((m.start(), j, m.group(1)))
    return spans

def module_at(mod, text, pos, spans):
    inner = [s for s in spans if s[0] <= pos <= s[1]]
    inner.sort()
    return mod + tuple(s[2] for s in inner)

def expand_use_tree(tree):
    tree = re.sub(r"\s+", "", tree)
    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{": depth += 1
            elif ch == "}": depth -= 1
            if ch == "," and depth == 0: parts.append(cur); cur = ""
            else: cur += ch
        if cur: parts.append(cur)
        return parts
    def rec(prefix, s):
        if "{" in s:
            i = s.index("{"); head = s[:i].rstrip(":"); body = s[i+1:s.rindex("}")]
            base = prefix + ([p for p in head.split("::") if p] if head else [])
            out = []
            for part in split_top(body): out += rec(base, part)
            return out
        alias = None
        if "as" in s and re.search(r"\bas\b", s.replace("::", " :: ")):
            pass
        m = re.match(r"(.*?)(?:as([A-Za-z_]\w*))?$", s)
        segs = [p for p in s.split("::") if p]
        if segs and segs[-1] == "self": segs = segs[:-1]
        return [prefix + segs]
    return rec([], tree)

def parse_uses(mod, text):
    spans = inline_mod_spans(text)
    uses = []  # (scope module, segments, bound name, is_pub)
    for m in re.finditer(r"(?:\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);", text):
        scope = module_at(mod, text, m.start(), spans)
        for segs in expand_use_tree(m.group(1)):
            last = segs[-1] if segs else ""
            am = re.match(r"(.+?)as(\w+)$", last) if last not in ("*",) else None
            # handle `X as Y` (whitespace removed: `XasY`); detect with original text instead
            uses.append((scope, segs, m.group(0)))
    return uses, spans

# bound names per module, for re-export resolution
def bindings(mod):
    text = code[mod]
    out = {}
    globs = []
    for m in re.finditer(r"(?:\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);", text):
        spans = inline_mod_spans(text)
        if module_at(mod, text, m.start(), spans) != mod: continue
        raw = m.group(1)
        for segs in expand_use_tree_with_alias(raw):
            path, name = segs
            if name == "*": globs.append(path)
            else: out[name] = path
    return out, globs

def expand_use_tree_with_alias(raw):
    raw = re.sub(r"\s+as\s+", " as ", raw)
    raw = re.sub(r"\s*(::|,|\{|\})\s*", r"\1", raw.strip())
    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{": depth += 1
            elif ch == "}": depth -= 1
            if ch == "," and depth == 0: parts.append(cur); cur = ""
            else: cur += ch
        if cur.strip(): parts.append(cur)
        return parts
    def rec(prefix, s):
        s = s.strip()
        if "{" in s:
            i = s.index("{"); head = s[:i].rstrip(":")
            body = s[i+1:s.rindex("}")]
            base = prefix + ([p for p in head.split("::") if p] if head else [])
            out = []
            for part in split_top(body): out += rec(base, part)
            return out
        alias = None
        if " as " in s: s, alias = s.split(" as ")
        segs = prefix + [p for p in s.split("::") if p]
        if segs and segs[-1] == "self":
            segs = segs[:-1]
            return [(segs, alias or segs[-1])]
        if segs and segs[-1] == "*": return [(segs[:-1], "*")]
        return [(segs, alias or segs[-1])]
    return rec([], raw)

def absolute(scope, segs):
    """Turn a use path into an absolute module path list, or None for external crates."""
    if not segs: return None
    segs = list(segs)
    if segs[0] == "crate": base = []; segs = segs[1:]
    elif segs[0] in ("super", "self"):
        base = list(scope)
        while segs and segs[0] in ("super", "self"):
            if segs[0] == "super": base = base[:-1]
            segs = segs[1:]
    else:
        # a name bound in scope (e.g. a child module) or an external crate
        if tuple(scope) + (segs[0],) in files: base = list(scope)
        else: return None
    return base + segs

def file_module(modpath):
    """Longest prefix of modpath that is a file module; returns (module, rest)."""
    for k in range(len(modpath), -1, -1):
        if tuple(modpath[:k]) in files: return tuple(modpath[:k]), modpath[k:]
    return (), modpath

DEF_RE = r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+|async\s+|const\s+)*(?:struct|enum|trait|fn|type|const|static|union|macro_rules!)\s+{}\b"
_cache = {}
def resolve(modpath, seen=None):
    """The file module defining the item at absolute path modpath."""
    key = tuple(modpath)
    if key in _cache: return _cache[key]
    seen = seen or set()
    if key in seen: return file_module(modpath)[0]
    seen.add(key)
    mod, rest = file_module(modpath)
    if not rest: res = mod
    else:
        name = rest[0]
        text = code[mod]
        if re.search(DEF_RE.format(re.escape(name)), text, re.M): res = mod
        else:
            binds, globs = bindings(mod)
            if name in binds:
                target = absolute(mod, binds[name])
                res = resolve(target + rest[1:], seen) if target is not None else mod
            else:
                res = mod
                for g in globs:
                    target = absolute(mod, g)
                    if target is None: continue
                    r = resolve(target + rest, seen)
                    if r != file_module(target)[0] or re.search(DEF_RE.format(re.escape(name)), code.get(r, ""), re.M):
                        res = r; break
    _cache[key] = res
    return res

edges = defaultdict(set)
why = defaultdict(list)
for mod, text in code.items():
    spans = inline_mod_spans(text)
    use_spans = []
    for m in re.finditer(r"(?:\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);", text):
        use_spans.append((m.start(), m.end()))
        scope = module_at(mod, text, m.start(), spans)
        for segs, name in expand_use_tree_with_alias(m.group(1)):
            if name == "*" and segs and segs[0] == "super" and len(segs) == 1 and scope != mod: continue
            target = absolute(scope, segs)
            if target is None: continue
            r = resolve(target)
            if r != mod:
                edges[mod].add(r); why[(mod, r)].append("use " + "::".join(segs))
    for m in re.finditer(r"\b(crate|super|self)((?:::[A-Za-z_]\w*)+)", text):
        if any(a <= m.start() < b for a, b in use_spans): continue
        scope = module_at(mod, text, m.start(), spans)
        segs = [m.group(1)] + [s for s in m.group(2).split("::") if s]
        target = absolute(scope, segs)
        if target is None: continue
        r = resolve(target)
        if r != mod:
            edges[mod].add(r); why[(mod, r)].append("path " + "::".join(segs))

def name(m): return os.path.relpath(files[m], SRC)

def sccs(nodes, adj):
    index, low, stack, on, out, i = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def strong(v):
        index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
        for w in adj.get(v, ()):
            if w not in index: strong(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    for v in nodes:
        if v not in index: strong(v)
    return [c for c in out if len(c) > 1]

in_focus = lambda m: len(m) > 0 and m[0] in FOCUS
print(f"== files of {', '.join(FOCUS)}: imports of crate::task from context/processor/topology")
bad = [(a, b) for a in edges for b in edges[a] if in_focus(a) and a[0] in ("context", "processor", "topology") and b[:1] == ("task",)]
for a, b in sorted(bad): print(f"  {name(a)} -> {name(b)}: {sorted(set(why[(a, b)]))}")
if not bad: print("  none")

print(f"\n== import edges between files of {', '.join(FOCUS)} (resolved to the defining file)")
for a in sorted(m for m in edges if in_focus(m)):
    for b in sorted(x for x in edges[a] if in_focus(x)):
        print(f"  {name(a):32} -> {name(b)}")

print("\n== import circles among files (whole crate)")
cyc = sccs(sorted(files), {k: sorted(v) for k, v in edges.items()})
for c in cyc:
    print("  CIRCLE: " + ", ".join(sorted(name(m) for m in c)))
    for a in c:
        for b in edges[a]:
            if b in c: print(f"     {name(a)} -> {name(b)}: {sorted(set(why[(a, b)]))[:3]}")
if not cyc: print("  none")
focus_cyc = [c for c in cyc if any(in_focus(m) for m in c)]
print(f"\n== circles touching {', '.join(FOCUS)}: {len(focus_cyc)}")

print("\n== import circles among top-level modules (a module = all its files)")
top = defaultdict(set)
for a, bs in edges.items():
    for b in bs:
        ta, tb = (a[:1] or ("lib",)), (b[:1] or ("lib",))
        if ta != tb: top[ta].add(tb)
mc = sccs(sorted(set(top) | {t for v in top.values() for t in v}), {k: sorted(v) for k, v in top.items()})
for c in mc:
    print("  CIRCLE: " + ", ".join(sorted("::".join(m) for m in c)))
    for a in c:
        for b in sorted(top[a]):
            if b in c:
                ex = sorted({f"{name(x)} -> {name(y)}" for x in edges for y in edges[x] if (x[:1] or ('lib',)) == a and (y[:1] or ('lib',)) == b})
                print(f"     {'::'.join(a)} -> {'::'.join(b)} ({'; '.join(ex[:3])})")
if not mc: print("  none")

# Exit status: 1 when a circle touches the focus modules or joins top-level modules, which
# the layering in ARCHITECTURE.md rules out. Circles between a parent `mod.rs` and its own
# child files are reported above but allowed: they are one module.
sys.exit(1 if focus_cyc or mc else 0)
