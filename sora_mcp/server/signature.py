"""Giving a function the signature the SDK should read: the one place signatures are rewritten.

The SDK builds a tool's or a prompt's arguments from `inspect.signature(fn)` and the function's
annotations. Two things here need a signature that is not the one written in the source: a
budget gate attached to a tool's `approval` parameter (it closes over the service, which a
string annotation could not name) and the prompts, whose arguments are declared as data in the
prompting layer. Both go through `with_signature`, which sets `__signature__` and
`__annotations__` together so the two never disagree.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def with_signature(fn: F, params: Sequence[inspect.Parameter], return_annotation: Any) -> F:
    """`fn`, now presenting `params` and `return_annotation` to whoever inspects it (the SDK)."""
    # A function object takes any attribute; mypy knows `__signature__` only as a protocol member.
    fn.__signature__ = inspect.Signature(list(params), return_annotation=return_annotation)  # type: ignore[attr-defined]
    fn.__annotations__ = {p.name: p.annotation for p in params} | {"return": return_annotation}
    return fn


def replace_annotations(fn: F, annotations: dict[str, Any]) -> F:
    """`fn` with the named parameters' annotations replaced (string annotations resolved first)."""
    sig = inspect.signature(fn, eval_str=True)
    params = [
        p.replace(annotation=annotations[p.name]) if p.name in annotations else p
        for p in sig.parameters.values()
    ]
    return with_signature(fn, params, sig.return_annotation)
