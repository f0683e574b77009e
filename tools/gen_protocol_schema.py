#!/usr/bin/env python3
"""Generates src/protocol/schema.rs: the wire layout of every request and response message, read from the
decoders of the kafka-protocol crate in use (its generated `src/messages/*_{request,response}.rs`), for
`protocol::bounds` to check array counts before the crate allocates for them.

    python3 tools/gen_protocol_schema.py [PATH_TO_kafka-protocol-X.Y.Z] > src/protocol/schema.rs && cargo fmt

Rerun after upgrading kafka-protocol; `protocol::bounds`' tests walk real requests of every served API
version, so a layout that no longer matches the crate fails there.
"""

import glob
import os
import re
import sys

VMAX = 32767


def crate_dir() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    home = os.path.expanduser("~/.cargo/registry/src")
    found = sorted(glob.glob(os.path.join(home, "*", "kafka-protocol-*")))
    if not found:
        sys.exit("kafka-protocol source not found; pass its path")
    return found[-1]


def block(text: str, open_at: int) -> int:
    """Index just past the brace matching the `{` at `open_at`."""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError("unbalanced")


def intersect(ranges, lo, hi):
    return [(max(a, lo), min(b, hi)) for a, b in ranges if max(a, lo) <= min(b, hi)]


def cond_ranges(cond: str):
    """Version ranges where `cond` holds."""
    lo, hi = 0, VMAX
    for part in cond.split("&&"):
        m = re.fullmatch(r"\s*version\s*(>=|<=|==|>|<)\s*(-?\d+)\s*", part)
        if not m:
            raise ValueError(f"condition {cond!r}")
        op, n = m.group(1), int(m.group(2))
        if op == ">=":
            lo = max(lo, n)
        elif op == ">":
            lo = max(lo, n + 1)
        elif op == "<=":
            hi = min(hi, n)
        elif op == "<":
            hi = min(hi, n - 1)
        else:
            lo, hi = max(lo, n), min(hi, n)
    return [(lo, hi)] if lo <= hi else []


def complement(ranges):
    out, at = [], 0
    for a, b in sorted(ranges):
        if a > at:
            out.append((at, a - 1))
        at = max(at, b + 1)
    if at <= VMAX:
        out.append((at, VMAX))
    return out


def parse_value(s: str, ranges):
    """Alternatives (ranges, expression) of a field's value: `if C { X } else { Y }` chains or one expression."""
    s = s.strip()
    if not s.startswith("if "):
        return [(ranges, s)] if ranges else []
    brace = s.index("{")
    cond = s[3:brace]
    end = block(s, brace)
    yes = cond_ranges(cond)
    out = []
    for lo, hi in yes:
        out += parse_value(s[brace + 1 : end - 1], intersect(ranges, lo, hi))
    rest = s[end:].strip()
    no = []
    for lo, hi in complement(yes):
        no += intersect(ranges, lo, hi)
    if rest.startswith("else"):
        rest = rest[4:].strip()
        if rest.startswith("{"):
            e = block(rest, 0)
            out += parse_value(rest[1 : e - 1], no)
        else:
            out += parse_value(rest, no)
    return out


def kind(expr: str, elem: str):
    """Rust `Kind` for a decode expression; None for a default value (field absent)."""
    expr = expr.strip().rstrip(";").strip()
    if ".decode(buf)" not in expr:
        return None
    inner = expr[: expr.index(".decode(buf)")].strip()
    return kind_of(inner, elem)


SCALARS = {
    "types::Int8": "Kind::I8",
    "types::Int16": "Kind::I16",
    "types::UInt16": "Kind::I16",
    "types::Int32": "Kind::I32",
    "types::Int64": "Kind::I64",
    "types::Float64": "Kind::I64",
    "types::Boolean": "Kind::I8",
    "types::Uuid": "Kind::Uuid",
    "types::String": "Kind::Str",
    "types::CompactString": "Kind::CompactStr",
    "types::Bytes": "Kind::Bytes",
    "types::CompactBytes": "Kind::CompactBytes",
}


def kind_of(t: str, elem: str):
    t = t.strip()
    if t in SCALARS:
        return SCALARS[t]
    m = re.fullmatch(r"types::(Compact)?Array\((.*)\)", t, re.S)
    if m:
        k = kind_of(m.group(2), elem)
        return f"Kind::{'CompactArray' if m.group(1) else 'Array'}(&{k})"
    if re.fullmatch(r"types::Struct\s*\{\s*version\s*\}", t):
        return f"Kind::Struct({{{elem}}})"
    if re.fullmatch(r"types::OptionStruct\s*\{\s*version\s*\}", t):
        return f"Kind::OptionStruct({{{elem}}})"
    raise ValueError(f"type {t!r}")


def field_types(text: str, name: str):
    m = re.search(r"pub struct " + name + r" \{", text)
    end = block(text, m.end() - 1)
    return dict(re.findall(r"pub (\w+): ([^,]+),", text[m.end() : end]))


def element(ty: str, structs):
    names = [n for n in re.findall(r"[A-Z]\w*", ty) if n in structs]
    return names[-1] if names else None


def parse_decoder(text: str, name: str, structs):
    m = re.search(r"impl Decodable for " + name + r" \{", text)
    body_at = text.index("{", text.index("fn decode", m.end()))
    body = text[body_at + 1 : block(text, body_at) - 1]
    types = field_types(text, name)
    fields, tagged, flexible = [], [], VMAX
    i = 0
    while i < len(body):
        rest = body[i:]
        stripped = rest.lstrip()
        at = i + len(rest) - len(stripped)
        if not stripped:
            break
        if stripped.startswith("if ") and stripped.split("{", 1)[1].lstrip().startswith("bail!"):
            i = block(body, body.index("{", at))  # the version check
            continue
        if stripped.startswith("let mut unknown_tagged_fields"):
            i = body.index(";", at) + 1
            continue
        always = stripped.startswith("let num_tagged_fields")
        if stripped.startswith("if version >=") or always:
            # The tagged-fields section (unconditional when every version is flexible).
            if always:
                flexible = 0
                brace = body.index("{", body.index("for _ in", at))
            else:
                brace = body.index("{", at)
                flexible = cond_ranges(body[at + 3 : brace])[0][0]
            end = block(body, brace)
            section = body[brace + 1 : end - 1]
            mm = re.search(r"match tag \{", section)
            if mm:
                arms = section[mm.end() : block(section, mm.end() - 1) - 1]
                for am in re.finditer(r"(\d+) => \{", arms):
                    arm_end = block(arms, am.end() - 1)
                    arm = arms[am.end() : arm_end - 1].strip()
                    tag = int(am.group(1))
                    if arm.startswith("if "):
                        alts = parse_value(arm, [(0, VMAX)])
                    else:
                        alts = [([(0, VMAX)], arm)]
                    for ranges, stmt in alts:
                        if "bail!" in stmt:
                            continue
                        fm = re.match(r"(\w+)\s*=\s*(.*)", stmt, re.S)
                        if fm is None:
                            raise ValueError(f"{name}: tagged field {stmt[:120]!r}")
                        k = kind(fm.group(2), element(types.get(fm.group(1), ""), structs))
                        for lo, hi in ranges:
                            tagged.append((tag, lo, hi, k))
            i = end
            continue
        if stripped.startswith("Ok(Self"):
            break
        lm = re.match(r"let (mut )?(\w+) = ", stripped)
        if not lm:
            raise ValueError(f"{name}: cannot parse {stripped[:80]!r}")
        fname = lm.group(2)
        start = at + lm.end()
        # The value runs to the `;` at brace depth 0.
        depth, j = 0, start
        while True:
            c = body[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == ";" and depth == 0:
                break
            j += 1
        value = body[start:j]
        i = j + 1
        if lm.group(1) and ".decode(buf)" not in value:
            continue  # placeholder of a tagged field
        for ranges, expr in parse_value(value, [(0, VMAX)]):
            k = kind(expr, element(types.get(fname, ""), structs))
            if k is None:
                continue
            for lo, hi in ranges:
                fields.append((fname, lo, hi, k))
    return fields, tagged, flexible


def main():
    root = crate_dir()
    schemas = []  # (key, fields, tagged, flexible)
    roots = {"Request": {}, "Response": {}}
    for suffix in roots:
        for path in sorted(glob.glob(os.path.join(root, f"src/messages/*_{suffix.lower()}.rs"))):
            text = open(path).read()
            module = os.path.basename(path)[:-3]
            structs = re.findall(r"impl Decodable for (\w+) \{", text)
            local = set(structs)
            for s in structs:
                fields, tagged, flexible = parse_decoder(text, s, local)
                schemas.append(((module, s), fields, tagged, flexible))
            root_name = "".join(p.capitalize() for p in module.split("_"))
            if root_name in local:
                roots[suffix][root_name[: -len(suffix)]] = (module, root_name)
    index = {key: n for n, (key, _, _, _) in enumerate(schemas)}
    out = []
    out.append("//! Generated by `tools/gen_protocol_schema.py` from kafka-protocol's decoders: the layout of every")
    out.append("//! request and response message, for `bounds` to check length prefixes before the crate decodes.")
    out.append("//! Do not edit by hand; rerun the script after upgrading kafka-protocol.")
    out.append("")
    out.append("use kafka_protocol::messages::ApiKey;")
    out.append("")
    out.append("use super::bounds::{Field, Kind, Schema, Tagged};")
    out.append("")
    out.append("/// Every message and nested struct; `Kind::Struct(n)` indexes this table.")
    out.append("#[rustfmt::skip]")
    out.append("pub static SCHEMAS: &[Schema] = &[")
    for (module, name), fields, tagged, flexible in schemas:
        def fill(k):
            return re.sub(r"\{(\w+)\}", lambda m: str(index[(module, m.group(1))]), k)

        out.append(f"    // {index[(module, name)]}: {module}::{name}")
        out.append("    Schema {")
        out.append(f"        flexible_from: {flexible},")
        out.append("        fields: &[")
        for fname, lo, hi, k in fields:
            out.append(f"            Field {{ versions: ({lo}, {hi}), kind: {fill(k)} }}, // {fname}")
        out.append("        ],")
        out.append("        tagged: &[")
        for tag, lo, hi, k in tagged:
            out.append(f"            Tagged {{ tag: {tag}, versions: ({lo}, {hi}), kind: {fill(k)} }},")
        out.append("        ],")
        out.append("    },")
    out.append("];")
    for suffix, apis in roots.items():
        out.append("")
        out.append(f"/// The schema of each API's {suffix.lower()} body.")
        out.append(f"pub fn {suffix.lower()}(api_key: ApiKey) -> Option<&'static Schema> {{")
        out.append("    let n = match api_key {")
        for api, key in sorted(apis.items()):
            out.append(f"        ApiKey::{api} => {index[key]},")
        out.append("        #[allow(unreachable_patterns)]")
        out.append("        _ => return None,")
        out.append("    };")
        out.append("    SCHEMAS.get(n)")
        out.append("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
