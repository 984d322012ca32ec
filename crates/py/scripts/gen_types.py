"""Generate ``gatepost/_schema_types.py`` from the engine's committed JSON Schemas (``schemas/``).

The Python twin of ``crates/node/scripts/gen-types.mjs``: the TypedDicts and Literals of the
documents the engine takes and returns (actions, inputs, events, the outcome, the validation
result) are derived from the schemas, never copied by hand. Standard library only.

    python3 crates/py/scripts/gen_types.py          write the module
    python3 crates/py/scripts/gen_types.py --check  fail when the committed module is stale

The generated module runs on CPython 3.9: a TypedDict with both required and optional keys is
split into a private ``_NameRequired`` base and a ``total=False`` subclass (``NotRequired`` is
3.11+), and the module-level aliases use ``Union``, which 3.9 evaluates.
"""

from __future__ import annotations

import json
import keyword
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
SCHEMAS = ROOT / "schemas"
TARGET = HERE.parent / "python" / "gatepost" / "_schema_types.py"
WIDTH = 100


@dataclass(frozen=True)
class Source:
    """One schema file: its root's Python name, and the suffix of its variants' names.

    A root that is a ``oneOf`` of objects tagged by a ``type`` constant becomes one TypedDict per
    variant, named after the tag (``send_request`` → ``SendRequest``) plus ``variant_suffix``,
    and a ``Union`` alias named ``name``, so a type checker narrows it on ``x["type"]``. Keys the
    root itself declares (an event's ``message``) are added to every variant.
    """

    file: str
    name: str
    variant_suffix: str = ""


SOURCES = [
    Source("outcome.schema.json", "OutcomeDocument"),
    Source("action.schema.json", "Action"),
    Source("input.schema.json", "Input"),
    Source("event.schema.json", "Event", variant_suffix="Event"),
    Source("validation.schema.json", "ValidationDocument"),
]

#: Definitions whose schema name is taken by a class of the package (``gatepost.Outcome`` and
#: friends are dataclasses built from these documents): their TypedDicts say ``Document``.
RENAMES = {
    "Outcome": "OutcomeDocument",
    "ApiError": "ApiErrorDocument",
    "FailedMonitor": "FailedMonitorDocument",
    "Narrative": "NarrativeDocument",
    "RuleFailures": "RuleFailuresDocument",
    "RuleResult": "RuleResultDocument",
    "RuleWindow": "RuleWindowDocument",
    "Problem": "ProblemDocument",
}


@dataclass
class Field:
    """One key of a TypedDict."""

    name: str
    annotation: str
    required: bool
    doc: str | None = None


@dataclass
class TypedDictDecl:
    """A TypedDict to emit."""

    name: str
    doc: str | None
    fields: list[Field] = field(default_factory=list)


@dataclass
class Module:
    """Everything the generated module declares, in emission order per kind."""

    literals: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    typeddicts: dict[str, TypedDictDecl] = field(default_factory=dict)
    unions: dict[str, tuple[list[str], str | None]] = field(default_factory=dict)

    def add_literal(self, name: str, annotation: str, doc: str | None) -> None:
        """Declare ``name = Literal[...]`` once; a second, different declaration is an error."""
        self._once(self.literals, name, (annotation, doc))

    def add_typeddict(self, decl: TypedDictDecl) -> None:
        """Declare a TypedDict once; a second, different declaration is an error."""
        self._once(self.typeddicts, decl.name, decl)

    def add_union(self, name: str, members: list[str], doc: str | None) -> None:
        """Declare ``name = Union[...]`` once."""
        self._once(self.unions, name, (members, doc))

    @staticmethod
    def _once(table: dict[str, Any], name: str, value: Any) -> None:
        if name in table and table[name] != value:
            raise SystemExit(f"gen_types: two schemas define {name} differently")
        table[name] = value


def camel(tag: str) -> str:
    """``send_request`` → ``SendRequest``."""
    return "".join(part.capitalize() for part in tag.split("_"))


def union(parts: list[str]) -> str:
    """``a | b`` without repeats; the module's annotations are never evaluated."""
    unique = list(dict.fromkeys(parts))
    if "None" in unique:  # None last, as people write it
        unique = [p for p in unique if p != "None"] + ["None"]
    return " | ".join(unique) if unique else "Any"


class Generator:
    """Turns the schemas of :data:`SOURCES` into a :class:`Module`."""

    def __init__(self) -> None:
        """An empty module; :meth:`run` fills it."""
        self.module = Module()

    def run(self) -> Module:
        """Read every source and declare what it defines."""
        for source in SOURCES:
            schema = json.loads((SCHEMAS / source.file).read_text(encoding="utf-8"))
            self.defs = schema.get("$defs", {})
            for def_name in sorted(self.defs):
                self.declare_def(def_name)
            self.declare_root(source, schema)
        return self.module

    def def_name(self, name: str) -> str:
        """The Python name of a definition."""
        return RENAMES.get(name, name)

    def declare_def(self, name: str) -> None:
        """Declare one ``$defs`` entry: a Literal for string enums, a TypedDict for objects."""
        schema = self.defs[name]
        py_name = self.def_name(name)
        literal = self.literal(schema)
        if literal is not None:
            self.module.add_literal(py_name, literal, self.literal_doc(schema))
        elif schema.get("type") == "object" and "properties" in schema:
            self.module.add_typeddict(self.typeddict(py_name, schema))
        else:
            raise SystemExit(f"gen_types: no Python shape for definition {name}")

    def declare_root(self, source: Source, schema: dict[str, Any]) -> None:
        """Declare the schema's root: a TypedDict, or one per tagged variant and their union."""
        variants = schema.get("oneOf")
        if variants is None:
            self.module.add_typeddict(self.typeddict(source.name, schema))
            return
        shared = schema.get("properties", {})
        shared_required = list(schema.get("required", []))
        decls = []
        for variant in variants:
            tag = variant["properties"]["type"]["const"]
            merged = dict(variant)
            merged["properties"] = {**variant["properties"], **shared}
            merged["required"] = list(variant.get("required", [])) + shared_required
            decls.append(self.typeddict(camel(tag) + source.variant_suffix, merged))
        for decl in decls:
            self.module.add_typeddict(decl)
        self.module.add_union(source.name, [d.name for d in decls], schema.get("description"))

    def typeddict(self, name: str, schema: dict[str, Any]) -> TypedDictDecl:
        """A TypedDict for an object schema, its required keys first, each in schema order."""
        required = schema.get("required", [])
        props = schema["properties"]
        keys = [k for k in required if k in props] + [k for k in props if k not in required]
        for key in keys:
            if not key.isidentifier() or keyword.iskeyword(key):
                # The class syntax cannot spell it; the functional syntax would be needed.
                raise SystemExit(f"gen_types: {name}.{key} is not a Python identifier")
        fields = [
            Field(key, self.annotation(props[key]), key in required, props[key].get("description"))
            for key in keys
        ]
        return TypedDictDecl(name, schema.get("description"), fields)

    def literal(self, schema: dict[str, Any]) -> str | None:
        """``Literal[...]`` for a string constant or enum (``enum``, or ``oneOf`` constants)."""
        if "const" in schema:
            return f"Literal[{json.dumps(schema['const'])}]"
        if "enum" in schema and all(isinstance(v, str) for v in schema["enum"]):
            return f"Literal[{', '.join(json.dumps(v) for v in schema['enum'])}]"
        options = schema.get("oneOf")
        if options and all("const" in o and len(o) <= 3 for o in options):
            return f"Literal[{', '.join(json.dumps(o['const']) for o in options)}]"
        return None

    def literal_doc(self, schema: dict[str, Any]) -> str | None:
        """The enum's description, then one line per documented value."""
        lines = [schema["description"]] if schema.get("description") else []
        for option in schema.get("oneOf", []):
            if option.get("description"):
                text = " ".join(option["description"].split())
                lines.append(f"``{option['const']}``: {text}")
        return "\n".join(lines) or None

    def annotation(self, schema: dict[str, Any]) -> str:
        """The Python annotation of a property's schema."""
        if "$ref" in schema:
            return self.def_name(schema["$ref"].rsplit("/", 1)[-1])
        literal = self.literal(schema)
        if literal is not None:
            return literal
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return union([p for s in schema[key] for p in self.annotation(s).split(" | ")])
        kinds = schema.get("type")
        if kinds is None:
            return "dict[str, Any]" if "description" in schema and len(schema) == 1 else "Any"
        if isinstance(kinds, list):
            return union([self.annotation({**schema, "type": k}) for k in kinds])
        if kinds == "array":
            if "prefixItems" in schema:
                # A pair on the wire, a list in Python (JSON arrays decode to lists).
                item = union([self.annotation(s) for s in schema["prefixItems"]])
            else:
                item = self.annotation(schema.get("items", {}))
            return f"list[{item}]"
        if kinds == "object":
            return "dict[str, Any]"
        scalars = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
        if kinds == "null":
            return "None"
        if kinds in scalars:
            return scalars[kinds]
        raise SystemExit(f"gen_types: no Python type for {schema!r}")


def comment(text: str, indent: str) -> list[str]:
    """``#:`` doc-comment lines (Sphinx's convention) wrapped to the line width."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        wrapped = textwrap.wrap(
            paragraph, WIDTH - len(indent) - 3, break_long_words=False, break_on_hyphens=False
        )
        out.extend(f"{indent}#: {line}" for line in wrapped or [""])
    return [line.rstrip() for line in out]


def docstring(text: str, indent: str) -> list[str]:
    """A docstring, one line when it fits."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    one = f'{indent}"""{" ".join(text.split())}"""'
    if "\n" not in text and len(one) <= WIDTH:
        return [one]
    lines = []
    for paragraph in text.split("\n"):
        wrapped = textwrap.wrap(
            paragraph, WIDTH - len(indent), break_long_words=False, break_on_hyphens=False
        )
        lines.extend(wrapped or [""])
    lines[0] = '"""' + lines[0]
    return [f"{indent}{line}".rstrip() for line in lines] + [f'{indent}"""']


def fit(prefix: str, annotation: str, indent: str) -> list[str]:
    """``prefix + annotation`` as ruff format lays it out.

    One line if it fits, else the subscript's items on one indented line, else one item a line
    with a trailing comma.
    """
    one = prefix + annotation
    if len(one) <= WIDTH or "[" not in annotation:
        return [one]
    head, inner = annotation.split("[", 1)
    items = inner[:-1].split(", ")
    inside = indent + "    "
    joined = inside + ", ".join(items)
    if len(joined) <= WIDTH:
        return [f"{prefix}{head}[", joined, f"{indent}]"]
    return [f"{prefix}{head}[", *(f"{inside}{item}," for item in items), f"{indent}]"]


def render(module: Module) -> str:
    """The module's source text."""
    out = [
        '"""The engine\'s documents as TypedDicts and Literals, generated from ``schemas/``.',
        "",
        "Generated by ``crates/py/scripts/gen_types.py`` from ``schemas/*.schema.json``. Do not",
        "edit by hand: change the Rust types, regenerate the schemas, then run",
        "``python3 crates/py/scripts/gen_types.py``. The public names are re-exported by",
        ":mod:`gatepost.types`. Descriptions are the schemas' own, as written.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any, Literal, TypedDict, Union",
        "",
        "__all__ = [",
    ]
    public = [*module.literals, *module.typeddicts, *module.unions]
    out += [f'    "{name}",' for name in sorted(public)]
    out += ["]", ""]
    for name, (annotation, doc) in module.literals.items():
        out.append("")
        out += comment(doc, "") if doc else []
        out += fit(f"{name} = ", annotation, "")
    for decl in module.typeddicts.values():
        out += render_typeddict(decl)
    for name, (members, doc) in module.unions.items():
        out += ["", ""]
        out += comment(doc, "") if doc else []
        out += fit(f"{name} = ", f"Union[{', '.join(members)}]", "")
    return "\n".join(out) + "\n"


def render_typeddict(decl: TypedDictDecl) -> list[str]:
    """A TypedDict; with required and optional keys, a required base and a ``total=False`` class."""
    required = [f for f in decl.fields if f.required]
    optional = [f for f in decl.fields if not f.required]
    out: list[str] = []

    def body(fields: list[Field]) -> list[str]:
        lines: list[str] = []
        for f in fields:
            lines += comment(" ".join(f.doc.split()), "    ") if f.doc else []
            lines += fit(f"    {f.name}: ", f.annotation, "    ")
        return lines

    doc = docstring(decl.doc, "    ") if decl.doc else []
    if required and optional:
        base = f"_{decl.name}Required"
        out += ["", "", f"class {base}(TypedDict):", *body(required)]
        out += ["", "", f"class {decl.name}({base}, total=False):", *doc]
        out += [""] if doc else []
        out += body(optional)
    else:
        total = "" if required or not decl.fields else ", total=False"
        out += ["", "", f"class {decl.name}(TypedDict{total}):", *doc]
        out += [""] if doc and decl.fields else []
        out += body(decl.fields) if decl.fields else ([] if doc else ["    pass"])
    return out


def main(argv: list[str]) -> int:
    """Write the module, or with ``--check`` compare it with what the schemas give."""
    text = render(Generator().run())
    shown = TARGET.relative_to(ROOT)
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(
                f"{shown} is stale (the schemas changed, or it was edited by hand): "
                "run `python3 crates/py/scripts/gen_types.py` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"{shown} matches the schemas")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
