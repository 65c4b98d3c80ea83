#!/usr/bin/env python3
"""mapio-api.py - the public API as the headers in api/ declare it.

One parser of api/*.h, three uses:

  mapio-api.py list HEADER...           the public functions, one a line
  mapio-api.py man --outdir DIR [--section 3|7] [--list] [--version V] HEADER...
                                        generate the man pages (or, with --list,
                                        print the names of the files it writes)
  mapio-api.py check-man --mandir DIR [--lib SO] HEADER...
                                        every public function (and every symbol
                                        SO exports) has a page, nothing else has
                                        one, and groff -man -ww -z is silent
  mapio-api.py check-abi --lib SO --map MAP HEADER...
                                        the symbols SO exports, the version
                                        script MAP and the MAPIO_EXTERN
                                        declarations of HEADER... agree

The header comments are the one source of the pages, so the generator is
strict: it fails if a public function has no comment, or its comment has no
return-value statement (a non-void function) or no thread-safety statement.
The convention (docs/abi.md, "Header comments"):

- The comment ends on the line right above the declaration. Declarations on
  the lines that follow it directly (no blank line) share it, and so share
  one page (the others are .so links to it). It may begin with
  "name[ / name...] - summary"; otherwise its first sentence is the summary.
- A return-value statement is a sentence that begins with "Returns",
  "Return" or "Result" (what a request's callback then finds in
  req->result).
- A thread-safety statement is a sentence that begins with one of
  THREAD_OPENERS below ("Thread-safe", "Not thread-safe", "Any thread",
  "Call from", "One thread at a time", "Must not run concurrently", ...).
- Error codes are the MAPIO_E* names in the comment; a parenthesis right
  after one explains it. "the OS error" adds the system call's own codes;
  another function named in a return statement ("as mapio_read_at") adds a
  pointer to its page.

Functions declared through an X-macro (the mapio_map_get_*/put_* numbers)
are expanded here the way the preprocessor does, so each gets its page and
its place in the ABI check.

Only the standard library: meson needs python3 anyway.
"""

import argparse
import os
import re
import subprocess
import sys

THREAD_OPENERS = (
    "Thread-safe", "Not thread-safe", "Any thread", "Call from", "Call it from",
    "Call them from", "Call these from", "Must not run concurrently", "Must not be called concurrently",
    "Safe to call from", "One thread at a time", "One thread polls at a time",
    "Same threading", "Same thread rules", "Threading:",
)
RETURN_OPENERS = ("Returns", "Return ", "Return:", "Result", "The result", "Never NULL", "On error",
                  "On failure")
ABBREVIATIONS = ("e.g", "i.e", "etc", "vs", "cf")


class ApiError(Exception):
    pass


# ---- lexing ------------------------------------------------------------------------


class Item:
    """One top-level thing in a header: a comment, a #define, a statement."""

    def __init__(self, kind, start, end, text, **kw):
        self.kind, self.start, self.end, self.text = kind, start, end, text
        self.__dict__.update(kw)


def strip_comments(s):
    return re.sub(r"/\*.*?\*/", " ", s, flags=re.S)


def lex(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    items = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        s = line.strip()
        if not s:
            i += 1
            continue
        if s.startswith("/*"):
            start = i
            buf = [line]
            off = line.find("/*") + 2
            while "*/" not in buf[-1][off:]:
                off = 0
                i += 1
                if i >= n:
                    raise ApiError(f"{path}:{start + 1}: unterminated comment")
                buf.append(lines[i])
            rest = buf[-1][buf[-1].find("*/") + 2:].strip()
            items.append(Item("comment", start, i, "\n".join(buf), trailing=rest))
            i += 1
            continue
        if s.startswith("#"):
            start = i
            buf = [line]
            while buf[-1].rstrip().endswith("\\"):
                i += 1
                buf.append(lines[i])
            text = strip_comments(" ".join(b.rstrip().rstrip("\\") for b in buf))
            m = re.match(r"\s*#\s*define\s+(\w+)\(([^)]*)\)\s*(.*)$", text, re.S)
            if m:
                params = [p.strip() for p in m.group(2).split(",") if p.strip()]
                items.append(Item("define", start, i, text, name=m.group(1), params=params,
                                  body=m.group(3).strip()))
            else:
                items.append(Item("pp", start, i, text))
            i += 1
            continue
        if re.match(r'extern\s+"C"\s*\{', s) or s == "}":
            items.append(Item("other", i, i, s))
            i += 1
            continue
        # A statement: up to a ';' outside braces and parentheses, or the end
        # of a function body; or a lone macro invocation (no ';').
        start = i
        buf = []
        depth_brace = depth_paren = 0
        saw_body = False
        while True:
            code = strip_comments(lines[i])
            buf.append(code)
            done = False
            for ch in code:
                if ch == "{":
                    depth_brace += 1
                    saw_body = True
                elif ch == "}":
                    depth_brace -= 1
                    if depth_brace == 0 and re.match(r"\s*static\s+inline\b", " ".join(buf)):
                        done = True
                elif ch == "(":
                    depth_paren += 1
                elif ch == ")":
                    depth_paren -= 1
                elif ch == ";" and depth_brace == 0 and depth_paren == 0:
                    done = True
            joined = " ".join(buf).strip()
            if not done and depth_brace == 0 and depth_paren == 0 and not saw_body and \
                    re.fullmatch(r"\w+\s*\(.*\)", joined, re.S) and not joined.startswith("MAPIO_EXTERN"):
                items.append(Item("invoke", start, i, joined))
                break
            if done:
                items.append(Item("stmt", start, i, joined))
                break
            i += 1
            if i >= n:
                raise ApiError(f"{path}:{start + 1}: unterminated statement")
        i += 1
    return items


# ---- a small preprocessor for the declaring X-macros -------------------------------------


def split_args(s):
    args, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        cur += ch
    if cur.strip() or args:
        args.append(cur.strip())
    return args


def expand(text, macros, depth=0):
    """Expand invocations of the function-like macros in text (rescanning)."""
    if depth > 8:
        raise ApiError("macro expansion too deep: " + text[:80])
    out, pos = "", 0
    for m in re.finditer(r"\b(\w+)\s*\(", text):
        if m.start() < pos or m.group(1) not in macros:
            continue
        # balanced argument list
        j, d = m.end(), 1
        while j < len(text) and d:
            d += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        params, body = macros[m.group(1)]
        args = split_args(text[m.end():j - 1])
        if len(args) != len(params):
            raise ApiError(f"{m.group(1)}: {len(args)} arguments for {len(params)} parameters")
        sub = body
        for p, a in zip(params, args):
            sub = re.sub(r"\b%s\b" % re.escape(p), lambda _m, a=a: a, sub)
        sub = re.sub(r"\s*##\s*", "", sub)
        out += text[pos:m.start()] + expand(sub, macros, depth + 1)
        pos = j
    return out + text[pos:]


# ---- declarations ----------------------------------------------------------------


class Func:
    def __init__(self, name, ret, params, header, line, inline=False):
        self.name, self.ret, self.params = name, ret, params
        self.header, self.line, self.inline = header, line, inline
        self.group = None

    def is_void(self):
        return self.ret.strip() == "void"

    def proto(self):
        sep = "" if self.ret.endswith("*") else " "
        return f"{self.ret}{sep}{self.name}({', '.join(p for p, _ in self.params) or 'void'});"


def parse_params(s):
    s = s.strip()
    if s in ("", "void"):
        return []
    out = []
    for p in split_args(s):
        m = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", p)
        name = m.group(1) if m else ""
        out.append((p, name))
    return out


def parse_decl(text, header, line, inline=False):
    t = " ".join(text.replace("MAPIO_EXTERN", " ").split())
    if inline:
        t = t[:t.index("{")].strip()
        t = re.sub(r"^static\s+inline\s+", "", t)
    t = t.rstrip(";").strip()
    m = re.match(r"^(.*?)\b(mapio_\w+)\s*\((.*)\)$", t, re.S)
    if not m:
        raise ApiError(f"{header}:{line}: cannot parse declaration: {t}")
    ret = re.sub(r"\s*\*\s*", " *", m.group(1).strip()).strip()
    ret = ret.replace(" *", " *").rstrip()
    return Func(m.group(2), ret, parse_params(m.group(3)), header, line, inline)


class Group:
    """Functions that share one comment, and so one page."""

    def __init__(self, comment, header, line):
        self.comment, self.header, self.line = comment, header, line
        self.funcs = []
        self.section = None  # the "---- name ----" section it is in

    @property
    def primary(self):
        return self.funcs[0].name


class Header:
    def __init__(self, path, rel):
        self.path, self.rel = path, rel
        self.top = ""  # the file's first comment
        self.groups = []
        self.funcs = []
        self.problems = []


def comment_text(raw):
    """The text of a /* */ comment: the markers and the leading ' * ' gone."""
    body = raw.strip()
    body = body[2:] if body.startswith("/*") else body
    body = body[:body.rfind("*/")] if "*/" in body else body
    out = []
    for ln in body.split("\n"):
        ln = ln.rstrip()
        ln = re.sub(r"^\s*\*( |$)", "", ln) if re.match(r"^\s*\*", ln) else ln.strip()
        out.append(ln)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def parse_header(path, rel):
    h = Header(path, rel)
    items = lex(path)
    macros = {}
    decl_macros = set()
    prev = None
    group = None
    for idx, it in enumerate(items):
        if it.kind == "comment" and not h.top and idx == 0:
            h.top = comment_text(it.text)
        attached = prev is not None and prev.kind == "comment" and prev.end == it.start - 1 and \
            not prev.trailing
        contiguous = prev is not None and prev.end == it.start - 1 and group is not None and \
            prev.kind in ("stmt", "invoke", "define") and getattr(prev, "in_group", False)
        funcs = []
        if it.kind == "define":
            macros[it.name] = (it.params, it.body)
            if "MAPIO_EXTERN" in it.body:
                decl_macros.add(it.name)
                if attached:
                    group = Group(comment_text(prev.text), rel, it.start + 1)
                    h.groups.append(group)
                    it.in_group = True
                elif contiguous:
                    it.in_group = True
            prev = it
            continue
        if it.kind == "invoke":
            name = re.match(r"\w+", it.text).group(0)
            if name in macros:
                expanded = expand(it.text, macros)
                for d in re.findall(r"MAPIO_EXTERN[^;]*;", expanded):
                    funcs.append(parse_decl(d, rel, it.start + 1))
        elif it.kind == "stmt":
            if it.text.startswith("MAPIO_EXTERN"):
                funcs.append(parse_decl(it.text, rel, it.start + 1))
            elif re.match(r"static\s+inline\b", it.text):
                f = parse_decl(it.text, rel, it.start + 1, inline=True)
                if f.name.startswith("mapio_"):
                    funcs.append(f)
        if funcs:
            if attached:
                group = Group(comment_text(prev.text), rel, it.start + 1)
                h.groups.append(group)
            elif not contiguous:
                for f in funcs:
                    h.problems.append(f"{rel}:{f.line}: {f.name} has no comment (the comment must end "
                                      f"on the line right above it, or it must follow a commented "
                                      f"declaration with no blank line between)")
                group = Group("", rel, it.start + 1)
                h.groups.append(group)
            for f in funcs:
                f.group = group
                group.funcs.append(f)
                h.funcs.append(f)
            it.in_group = True
        prev = it
    return h


def load(headers, api_root=None):
    out = []
    for p in headers:
        rel = os.path.relpath(p, api_root) if api_root else guess_rel(p)
        out.append(parse_header(p, rel))
    seen = {}
    for h in out:
        for f in h.funcs:
            if f.name in seen:
                h.problems.append(f"{h.rel}:{f.line}: {f.name} declared again (first in {seen[f.name]})")
            seen[f.name] = h.rel
    return out


def guess_rel(p):
    p = os.path.normpath(p)
    parts = p.split(os.sep)
    if "mapio" in parts[:-1]:
        return "/".join(parts[len(parts) - 1 - parts[::-1][1:].index("mapio") - 1:])
    return parts[-1]


# ---- what a comment says ---------------------------------------------------------------


def sentences(par):
    """Split a paragraph into sentences: '.' then space and a capital, at
    parenthesis depth 0, not after an abbreviation."""
    out, cur, depth = [], "", 0
    i = 0
    while i < len(par):
        ch = par[i]
        cur += ch
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch in ".!?" and depth == 0:
            nxt = par[i + 1:i + 3]
            word = re.search(r"(\S+)\.$", cur)
            abbrev = word and word.group(1).lower().rstrip(".") in ABBREVIATIONS
            ellipsis = cur.endswith("...")
            if (nxt == "" or (nxt[0] == " " and (len(nxt) < 2 or nxt[1].isupper() or nxt[1] in "\"'(" or
                                                  nxt[1].isdigit() or (nxt[1].islower() and not ellipsis)))) \
                    and not abbrev:
                out.append(cur.strip())
                cur = ""
        i += 1
    if cur.strip():
        out.append(cur.strip())
    return out


def paragraphs(text):
    """Paragraphs (blank-line separated); '- ' lines start list items."""
    pars, cur = [], []
    for ln in text.split("\n"):
        if not ln.strip():
            if cur:
                pars.append(cur)
            cur = []
            continue
        if ln.lstrip().startswith("- ") and cur:
            pars.append(cur)
            cur = []
        cur.append(ln.strip())
    if cur:
        pars.append(cur)
    out = []
    for p in pars:
        bullet = p[0].startswith("- ")
        txt = " ".join(p)
        if bullet:
            txt = txt[2:]
        out.append((bullet, txt))
    return out


NAME_HEADER = re.compile(r"^(mapio_[\w<>/()&, ]*?|fdatasync / fsync)\s+-\s+", re.S)


class Doc:
    """A group's comment, sorted into the sections of a man page."""

    def __init__(self, group, errtext):
        self.group = group
        text = group.comment
        self.names_header = None
        m = re.match(r"^(mapio_\S.*?)\s+-\s+", text, re.S)
        if m and "." not in m.group(1).replace("...", ""):
            self.names_header = m.group(1)
            text = text[m.end():]
        self.desc = []  # [(bullet, [sentences])]
        self.returns = []
        self.threads = []
        first = None
        for bullet, par in paragraphs(text):
            keep = []
            for s in sentences(par):
                if first is None:
                    first = s
                    # "name - queue a read": the summary starts a sentence.
                    s = s[:1].upper() + s[1:]
                r = s.startswith(RETURN_OPENERS)
                t = s.startswith(THREAD_OPENERS)
                if r:
                    self.returns.append(s)
                if t:
                    self.threads.append(s)
                if not r and not t:
                    keep.append(s)
            if keep:
                self.desc.append((bullet, keep))
        self.summary = summarize(first or "")
        # The codes the calls return or complete with: those named in the
        # return and thread statements (not those of other calls the
        # description mentions).
        self.errors = find_errors(" ".join(self.returns + self.threads), errtext)
        self.os_error = bool(re.search(r"\b(the|an?) OS error|OS's error|kernel's error|the open\(2\) "
                                       r"error|the backend's own error|the system call's", group.comment))
        own = {f.name for f in group.funcs}
        self.refs = sorted({r for r in re.findall(r"\bmapio_\w+", " ".join(self.returns)) if r not in own})
        self.mentions = sorted({r for r in re.findall(r"\bmapio_\w+", group.comment) if r not in own})

    def problems(self):
        g = self.group
        out = []
        where = f"{g.header}:{g.line}: {', '.join(f.name for f in g.funcs[:3])}" + \
            (", ..." if len(g.funcs) > 3 else "")
        if not g.comment:
            return out  # reported already
        if not self.returns and not all(f.is_void() for f in g.funcs):
            out.append(f"{where}: no return-value statement (a sentence beginning "
                       f"'Returns', 'Return' or 'Result')")
        if not self.threads:
            out.append(f"{where}: no thread-safety statement (a sentence beginning "
                       f"one of: {', '.join(repr(o) for o in THREAD_OPENERS[:6])}, ...)")
        return out


def summarize(s):
    s = re.sub(r"^[Rr]eturns? ", "", s)
    s = re.sub(r"\s*\([^()]*(\([^()]*\)[^()]*)*\)", "", s).strip().rstrip(".")
    if len(s) > 90:
        for sep in ("; ", ": ", ", "):
            if sep in s[:90]:
                s = s[:s.index(sep)]
                break
    if s and s[0].isupper() and not re.match(r"^[A-Z0-9_]{2,}\b|^[A-Z][a-z]*[A-Z]", s):
        s = s[0].lower() + s[1:]
    return s


def strip_explanations(s):
    """s without the parenthesis right after each MAPIO_E* code."""
    out, pos = "", 0
    for m in re.finditer(r"\bMAPIO_E[A-Z0-9]+\b\s*\(", s):
        if m.start() < pos:
            continue
        j, d = m.end(), 1
        while j < len(s) and d:
            d += {"(": 1, ")": -1}.get(s[j], 0)
            j += 1
        out += s[pos:m.start()] + re.match(r"MAPIO_E[A-Z0-9]+", s[m.start():]).group(0)
        pos = j
    return out + s[pos:]


def find_errors(text, errtext):
    out = []
    seen = set()
    for m in re.finditer(r"\bMAPIO_(E[A-Z0-9]+)\b", text):
        code = m.group(1)
        if code not in errtext:
            continue
        rest = text[m.end():]
        expl = None
        pm = re.match(r"\s*\(", rest)
        if pm:
            j, d = pm.end(), 1
            while j < len(rest) and d:
                d += {"(": 1, ")": -1}.get(rest[j], 0)
                j += 1
            expl = " ".join(rest[pm.end():j - 1].split())
        if code in seen:
            if expl:
                for k, (c, e) in enumerate(out):
                    if c == code and not e:
                        out[k] = (c, expl)
                    elif c == code and expl not in e:
                        out[k] = (c, e + "; " + expl)
            continue
        seen.add(code)
        out.append((code, expl))
    return [(c, e or errtext[c]) for c, e in out]


def error_table(headers):
    for h in headers:
        if h.rel.endswith("errno.h"):
            with open(h.path, encoding="utf-8") as f:
                return dict(re.findall(r'X\((E[A-Z0-9]+),\s*"([^"]*)"\)', f.read()))
    return {}


# ---- man pages ---------------------------------------------------------------------------


def roff(s, names=()):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    if names:
        s = re.sub(r"\b(mapio_\w+)(\(\))?", lambda m: (f"\\fB{m.group(1)}\\fP{m.group(2) or ''}"
                                                       if m.group(1) in names else m.group(0)), s)
    return s


def roff_lines(sents, names):
    out = []
    for s in sents:
        line = roff(s, names)
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return out


def synopsis_line(f):
    sep = "" if f.ret.endswith("*") else " "
    params = []
    for p, name in f.params:
        if name and p.endswith(name):
            params.append(roff(p[:-len(name)]) + "\\fI" + name + "\\fP")
        else:
            params.append(roff(p))
    inline = "static inline " if f.inline else ""
    return f"{inline}{roff(f.ret)}{sep}\\fB{f.name}\\fP({', '.join(params) or 'void'});"


def th(title, section, version):
    # .nh .ad l: identifiers are long and must not be hyphenated or spread.
    return f'.TH {title.upper()} {section} "" "mapio {version}" "mapio Manual"\n.nh\n.ad l'


def page3(g, doc, version, names, header_threads):
    funcs = g.funcs
    out = [f'.\\" Generated by tools/mapio-api.py from api/{g.header}: edit the comment there.',
           th(g.primary, 3, version), ".SH NAME",
           f"{', '.join(f.name for f in funcs)} \\- {roff(doc.summary)}", ".SH SYNOPSIS", ".nf",
           f".B #include <{g.header}>", ".PP"]
    for f in funcs:
        out.append(synopsis_line(f))
    lib = "mapio-ev" if g.header.endswith("ev.h") else "mapio"
    out += [".fi", ".PP", f"Compile and link with \\fIpkg-config --cflags --libs {lib}\\fP."]
    out.append(".SH DESCRIPTION")
    first = True
    for bullet, sents in doc.desc:
        if bullet:
            out.append(".IP \\(bu 2")
        elif not first:
            out.append(".PP")
        out += roff_lines(sents, names)
        first = False
    if first:  # the comment is its return statement: say it here too
        out += roff_lines([doc.summary[:1].upper() + doc.summary[1:] + "."], names)
    out.append(".SH RETURN VALUE")
    if doc.returns:
        # The codes' explanations are in ERRORS: keep the list readable here.
        rets = [strip_explanations(r) for r in doc.returns] if doc.errors else doc.returns
        out += roff_lines(rets, names)
    else:
        out.append("None: " + ("this function returns" if len(funcs) == 1 else "these functions return")
                   + " no value.")
    out.append(".SH ERRORS")
    if doc.errors:
        out.append("Errors are returned as negative values (see")
        out.append(".BR mapio_strerror (3)):")
        for code, expl in doc.errors:
            out += [".TP", f".B MAPIO_{code}", roff(expl, names) + ("" if expl.endswith(".") else ".")]
        if doc.os_error:
            out += [".TP", ".I other codes",
                    "The error of the underlying system call, as a negative errno value."]
    elif doc.os_error:
        out += ["The error of the underlying system call, as a negative errno value (see",
                ".BR mapio_strerror (3))."]
    elif all(f.is_void() or not re.match(r"^(int|int64_t)$", f.ret) for f in funcs):
        out.append("None.")
    else:
        out.append("See RETURN VALUE.")
    for r in doc.refs:
        if r in names:
            out += [".PP", "See also the errors of", f".BR {r} (3)."]
    out.append(".SH THREAD SAFETY")
    out += roff_lines(doc.threads, names)
    if header_threads:
        out += [".PP", f"The threading rules of all of <{g.header}> are in", ".BR mapio (7)."]
    see = [r for r in doc.mentions if r in names and names[r] != g.primary]
    see = sorted({names[r] for r in see})
    out.append(".SH SEE ALSO")
    refs = [f".BR {r} (3)" for r in see] + [".BR mapio (7)"]
    out += [r + ("," if k < len(refs) - 1 else "") for k, r in enumerate(refs)]
    return "\n".join(out) + "\n"


def page7(headers, docs, version, names):
    umbrella = next((h for h in headers if h.rel == "mapio.h"), None)
    out = ['.\\" Generated by tools/mapio-api.py from the comments of api/*.h: edit them there.',
           th("mapio", 7, version), ".SH NAME",
           "mapio \\- async file I/O for storage engines, log writers and WALs", ".SH SYNOPSIS", ".nf",
           ".B #include <mapio.h>", ".B #include <mapio/ev.h>  \\fR/* the libev adapter, mapio\\-ev */\\fP",
           ".fi", ".PP", "Compile and link with \\fIpkg-config --cflags --libs mapio\\fP (and \\fBmapio-ev\\fP for"
           " the libev adapter), or in CMake \\fIfind_package(mapio CONFIG)\\fP and the targets"
           " \\fBmapio::mapio\\fP and \\fBmapio::mapio-ev\\fP.", ".SH DESCRIPTION"]
    if umbrella:
        out += top_paragraphs(umbrella.top, names)
    for h in headers:
        if h.rel == "mapio.h":
            continue
        out += [".SS " + h.rel]
        out += top_paragraphs(h.top, names)
        if h.groups:
            out.append(".PP")
            out.append("Functions:")
            for g in h.groups:
                if not g.funcs:
                    continue
                d = docs[g.primary]
                also = ""
                if len(g.funcs) == 2:
                    also = f", \\fB{g.funcs[1].name}\\fP"
                elif len(g.funcs) > 2:
                    also = f" and {len(g.funcs) - 1} more"
                out += [".TP", f"\\fB{g.primary}\\fP(3){also}", roff(d.summary)]
    out += [".SH SEE ALSO"]
    firsts = [g.primary for h in headers for g in h.groups if g.funcs]
    refs = [f".BR {r} (3)" for r in firsts[:12]]
    out += [r + "," for r in refs[:-1]] + [refs[-1]] if refs else []
    return "\n".join(out) + "\n"


def top_paragraphs(text, names):
    lines = text.split("\n")
    if lines and re.match(r"^\S+\.h - ", lines[0]):
        lines[0] = re.sub(r"^\S+\.h - ", "", lines[0])
        lines[0] = lines[0][0].upper() + lines[0][1:] if lines[0] else lines[0]
    out = []
    for bullet, par in paragraphs("\n".join(lines)):
        out.append(".IP \\(bu 2" if bullet else ".PP")
        out += roff_lines(sentences(par), names)
    return out


def all_docs(headers):
    errtext = error_table(headers)
    docs, problems = {}, []
    for h in headers:
        problems += h.problems
        for g in h.groups:
            if not g.funcs:
                continue
            d = Doc(g, errtext)
            docs[g.primary] = d
            problems += d.problems()
    return docs, problems


def page_names(headers):
    """function name -> the name of the page that has it (its group's first)."""
    return {f.name: f.group.primary for h in headers for f in h.funcs}


def cmd_man(a):
    headers = load(a.headers)
    docs, problems = all_docs(headers)
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"mapio-api.py: {len(problems)} problem(s) in the header comments; "
              f"the man pages are generated from them (see the top of tools/mapio-api.py)",
              file=sys.stderr)
        return 1
    names = page_names(headers)
    files = {}
    if a.section in ("3", "all"):
        for h in headers:
            threads = bool(re.search(r"^Threading", h.top, re.M))
            for g in h.groups:
                if not g.funcs:
                    continue
                files[g.primary + ".3"] = page3(g, docs[g.primary], a.version, names, threads)
                for f in g.funcs[1:]:
                    files[f.name + ".3"] = f".so man3/{g.primary}.3\n"
    if a.section in ("7", "all"):
        files["mapio.7"] = page7(headers, docs, a.version, names)
    if a.list:
        for k in sorted(files):
            print(k)
        return 0
    os.makedirs(a.outdir, exist_ok=True)
    for k, v in files.items():
        path = os.path.join(a.outdir, k)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old != v:
            with open(path, "w", encoding="utf-8") as f:
                f.write(v)
    return 0


def cmd_list(a):
    headers = load(a.headers)
    for h in headers:
        for f in h.funcs:
            print(f"{f.name}\t{h.rel}\t{'inline' if f.inline else 'extern'}")
    return 0


# ---- checks ------------------------------------------------------------------------------


def exported(lib):
    """{name: version node or ''} of the defined dynamic symbols of lib."""
    nm = os.environ.get("NM", "nm")
    r = subprocess.run([nm, "-D", "--defined-only", lib], capture_output=True, text=True)
    if r.returncode:
        raise ApiError(f"{nm} -D {lib}: {r.stderr.strip()}")
    out = {}
    for ln in r.stdout.splitlines():
        parts = ln.split()
        if len(parts) < 2:
            continue
        typ, sym = parts[-2], parts[-1]
        if typ == "A":  # the version nodes themselves
            continue
        name, _, ver = sym.partition("@")
        out[name] = ver.lstrip("@")
    return out


def parse_map(path):
    """[(node, [symbols], parent)] of a GNU ld version script."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    nodes = []
    for m in re.finditer(r"(\w[\w.]*)\s*\{(.*?)\}\s*([\w.]*)\s*;", text, re.S):
        body = m.group(2)
        glob = re.search(r"global\s*:(.*?)(local\s*:|$)", body, re.S)
        syms = [s.strip() for s in (glob.group(1) if glob else "").split(";") if s.strip()]
        local = re.search(r"local\s*:\s*([^;]*);", body)
        nodes.append((m.group(1), syms, m.group(3) or None, local.group(1).strip() if local else None))
    if not nodes:
        raise ApiError(f"{path}: no version node found")
    return nodes


def cmd_check_abi(a):
    headers = load(a.headers)
    problems = [p for h in headers for p in h.problems if "declared again" in p]
    declared = {f.name: f.header for h in headers for f in h.funcs if not f.inline}
    nodes = parse_map(a.map)
    mapname = os.path.basename(a.map)
    mapped = {}
    for node, syms, parent, local in nodes:
        for s in syms:
            if any(c in s for c in "*?["):
                problems.append(f"{mapname}: {node}: wildcard '{s}': list every symbol by name")
                continue
            if s in mapped:
                problems.append(f"{mapname}: {s} is in {mapped[s]} and again in {node}")
            mapped[s] = node
    newest = nodes[-1][0]
    if nodes[0][3] != "*":
        problems.append(f"{mapname}: the first node ({nodes[0][0]}) must end with 'local: *;'")
    exp = exported(a.lib) if a.lib else None
    libname = os.path.basename(a.lib) if a.lib else ""
    for s in sorted(set(declared) - set(mapped)):
        problems.append(f"{declared[s]}: {s} is declared MAPIO_EXTERN but not in {mapname}: "
                        f"add '{s};' to the global list of its newest node, {newest}, "
                        f"or a new node for the next release (docs/abi.md)")
    for s in sorted(set(mapped) - set(declared)):
        problems.append(f"{mapname}: {s} ({mapped[s]}) has no MAPIO_EXTERN declaration in "
                        f"{', '.join(h.rel for h in headers)}: a removed or renamed function "
                        f"breaks the ABI (docs/abi.md: the soname changes)")
    if exp is not None:
        for s in sorted(set(exp) - set(mapped)):
            problems.append(f"{libname} exports {s}, which is not in {mapname}"
                            + ("" if s.startswith("mapio_") else " (and not a mapio_ name)"))
        for s in sorted(set(mapped) - set(exp)):
            problems.append(f"{mapname}: {s} ({mapped[s]}) is not exported by {libname} "
                            f"(not defined, or not MAPIO_EXTERN where it is defined)")
        for s in sorted(set(mapped) & set(exp)):
            if exp[s] and exp[s] != mapped[s]:
                problems.append(f"{libname}: {s} has version {exp[s]}, the map says {mapped[s]}")
            if not exp[s] and a.require_versions:
                problems.append(f"{libname}: {s} has no version node (was {mapname} given to the linker?)")
        for s in sorted(exp):
            if s.startswith("mapio__"):
                problems.append(f"{libname} exports the internal name {s}")
    for p in problems:
        print("abi: " + p)
    what = f"{len(mapped)} symbols in {mapname}"
    if problems:
        print(f"abi: {len(problems)} problem(s); {what}")
        return 1
    print(f"abi: ok: {what}, " + ("the exports of " + libname + ", " if exp is not None else "")
          + "and the declarations agree")
    return 0


def cmd_check_man(a):
    headers = load(a.headers)
    names = page_names(headers)
    problems = []
    d = a.mandir
    def page(name, sec):
        for p in (os.path.join(d, f"man{sec}", f"{name}.{sec}"), os.path.join(d, f"{name}.{sec}")):
            if os.path.exists(p):
                return p
        return None
    for name in sorted(names):
        if not page(name, 3):
            problems.append(f"no page for {name} in {d}")
    if not page("mapio", 7):
        problems.append(f"no mapio.7 in {d}")
    if a.lib:
        for s in sorted(exported(a.lib)):
            if not page(s, 3):
                problems.append(f"{os.path.basename(a.lib)} exports {s}, which has no page")
    files, lint = [], []
    for root, _, fs in os.walk(d):
        for f in fs:
            if re.search(r"\.[37]$", f):
                files.append(os.path.join(root, f))
    for p in sorted(files):
        base = os.path.basename(p)
        stem, sec = base.rsplit(".", 1)
        if sec == "3" and stem not in names and stem.startswith("mapio"):
            problems.append(f"{p}: a page for {stem}, which no header declares (stale?)")
        with open(p, encoding="utf-8") as f:
            text = f.read()
        m = re.match(r"\.so (\S+)", text)
        if m:
            target = os.path.join(os.path.dirname(os.path.dirname(p)), m.group(1))
            alt = os.path.join(os.path.dirname(p), os.path.basename(m.group(1)))
            if not os.path.exists(target) and not os.path.exists(alt):
                problems.append(f"{p}: .so target {m.group(1)} missing")
            continue
        for sec_name in ("NAME", "SYNOPSIS", "DESCRIPTION", "RETURN VALUE", "ERRORS", "THREAD SAFETY",
                         "SEE ALSO") if sec == "3" else ("NAME", "DESCRIPTION", "SEE ALSO"):
            if f"\n.SH {sec_name}\n" not in text:
                problems.append(f"{p}: no {sec_name} section")
        lint.append(p)
    if a.groff and lint:
        # One groff for all pages (.TH resets what a page sets); its warnings
        # name the file.
        r = subprocess.run([a.groff, "-man", "-ww", "-z"] + lint, capture_output=True, text=True)
        for ln in r.stderr.strip().splitlines():
            problems.append(f"groff -man -ww -z: {ln}")
        if r.returncode and not r.stderr.strip():
            problems.append(f"groff -man -ww -z: exit {r.returncode}")
    for p in problems:
        print("man: " + p)
    if problems:
        print(f"man: {len(problems)} problem(s) in {len(files)} pages")
        return 1
    print(f"man: ok: {len(files)} pages for {len(names)} functions"
          + (", groff -ww silent" if a.groff else ""))
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("list")
    p.add_argument("headers", nargs="+")
    p = sub.add_parser("man")
    p.add_argument("--outdir", default=".")
    p.add_argument("--section", choices=["3", "7", "all"], default="all")
    p.add_argument("--version", default="")
    p.add_argument("--list", action="store_true")
    p.add_argument("headers", nargs="+")
    p = sub.add_parser("check-abi")
    p.add_argument("--lib")
    p.add_argument("--map", required=True)
    p.add_argument("--require-versions", action="store_true")
    p.add_argument("headers", nargs="+")
    p = sub.add_parser("check-man")
    p.add_argument("--mandir", required=True)
    p.add_argument("--lib")
    p.add_argument("--groff")
    p.add_argument("headers", nargs="+")
    a = ap.parse_args(argv)
    try:
        return {"list": cmd_list, "man": cmd_man, "check-abi": cmd_check_abi,
                "check-man": cmd_check_man}[a.cmd](a)
    except ApiError as e:
        print(f"mapio-api.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
