"""ParamsError, and pydantic's validation errors turned into it: one line naming the key
(`section.key`, `methods.<name>.<key>`, `synthetic.traversals[2].condition`), the value and what is
allowed, with a did-you-mean for a misspelt key and hints for YAML's surprises."""

from __future__ import annotations

import difflib
import re
import types
from typing import Annotated, Any, Mapping, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING = _Missing()   # the value shown for a key that is absent


class ParamsError(ValueError):
    """A params problem: `key` (dotted), the offending `value` and what is `allowed`; one line."""

    def __init__(self, key: str, value: Any, allowed: str, source: str = "params.yaml") -> None:
        self.key, self.value, self.allowed = key, value, allowed
        shown = "(missing)" if value is MISSING else _short(value)
        super().__init__(f"{source}: {key} = {shown}: {allowed}" if key else f"{source}: {allowed}")


def validate_model(model: type[BaseModel], data: Any, prefix: tuple, source: str) -> Any:
    """model.model_validate(data), the first error raised as ParamsError with its full key."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        # An unknown key first: a misspelt key also shows up as the right one missing.
        first = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        value = MISSING if first["type"] == "missing" else first.get("input")
        raise ParamsError(_key(prefix + tuple(first["loc"])), value, _allowed(first, model, tuple(first["loc"])),
                          source) from None


def _key(loc: tuple) -> str:
    """('methods', 'soft', 'gamma') -> methods.soft.gamma; list items [i]; a bad dict key ['..']."""
    out = ""
    for i, part in enumerate(loc):
        if part == "[key]":
            continue
        if isinstance(part, int) or (i + 1 < len(loc) and loc[i + 1] == "[key]"):
            out += f"[{part!r}]" if isinstance(part, str) else f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _allowed(error: Mapping[str, Any], model: type[BaseModel], loc: tuple) -> str:
    """What is allowed at the error's place, in words (pydantic's message plus our hints)."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        keys = sorted(parent.model_fields) if parent is not None else []
        guess = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        return f"unknown key{hint}; allowed keys: {', '.join(keys)}"
    if kind == "missing":
        return "missing required key"
    message = error["msg"]
    if isinstance(value, str) and kind in ("float_type", "int_type") and _NUMBER.fullmatch(value.strip()):
        message += " (a string: YAML reads exponents without a dot, e.g. 1e-3, as text; write 1.0e-3)"
    if isinstance(value, bool) and kind in ("literal_error", "string_type", "string_pattern_mismatch"):
        message += " (YAML reads unquoted yes/no/on/off as booleans: quote the value)"
    return message


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _model_at(model: Any, loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found at `loc` inside `model` (through fields, dicts and lists)."""
    current = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional around a type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            arms = [a for a in get_args(tp) if a is not type(None)]
            tp = arms[0]
        else:
            return tp


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
