"""Which keys a request body may hold, read from the official `klaviyo-api` models.

The models silently drop unknown keys; Klaviyo rejects them ("'x' is not a valid field for the resource
'profile'."). So the allowed key tree is derived once from the models' fields and walked over each body.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel


@dataclass
class KeyTree:
    """Allowed keys of one JSON object; a None child means free-form (any keys below)."""

    resource: str
    children: dict[str, KeyTree | None] = field(default_factory=dict)
    list_items: set[str] = field(default_factory=set)  # keys whose value is a list of objects


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model class an annotation holds (through Optional/List/Union), and whether it is a list."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin in (list, typing.List):  # noqa: UP006 - generated models use typing.List
        model, _ = _model_in(typing.get_args(annotation)[0])
        return model, True
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            model, is_list = _model_in(arg)
            if model is not None:
                return model, is_list
    return None, False


@cache
def key_tree(model: type[BaseModel]) -> KeyTree:
    tree = KeyTree(resource=model.__name__)
    for name, info in model.model_fields.items():
        if name == "actual_instance":  # oneOf wrappers: leave to the model's own validation
            return KeyTree(resource=model.__name__, children={})
        key = info.alias or name
        child, is_list = _model_in(info.annotation)
        tree.children[key] = key_tree(child) if child is not None else None
        if is_list:
            tree.list_items.add(key)
    return tree


def unknown_keys(
    value: Any, tree: KeyTree, pointer: str, resource: str = ""
) -> Iterator[tuple[str, str, str]]:
    """Yield (pointer, key, resource type) for each key the tree does not allow."""
    if not isinstance(value, dict):
        return
    if isinstance(value.get("type"), str):
        resource = value["type"]
    for key, child_value in value.items():
        if key not in tree.children:
            yield f"{pointer}/{key}", key, resource or tree.resource
            continue
        child = tree.children[key]
        if child is None:
            continue
        if key in tree.list_items and isinstance(child_value, list):
            for index, item in enumerate(child_value):
                yield from unknown_keys(item, child, f"{pointer}/{key}/{index}", resource)
        else:
            yield from unknown_keys(child_value, child, f"{pointer}/{key}", resource)


def without(tree: KeyTree, path: tuple[str, ...], key: str) -> KeyTree:
    """A copy of the tree with `key` removed from the object at `path` (for older revisions)."""
    return _edit(tree, path, lambda node: node.children.pop(key, None))


def with_key(tree: KeyTree, path: tuple[str, ...], key: str, child: KeyTree | None) -> KeyTree:
    """A copy of the tree with `key` allowed in the object at `path`."""
    return _edit(tree, path, lambda node: node.children.__setitem__(key, child))


def _edit(tree: KeyTree, path: tuple[str, ...], change: Any) -> KeyTree:
    copy = KeyTree(tree.resource, dict(tree.children), set(tree.list_items))
    if not path:
        change(copy)
        return copy
    head, *rest = path
    child = copy.children[head]
    if child is None:
        msg = f"cannot edit below free-form key {head!r}"
        raise ValueError(msg)
    copy.children[head] = _edit(child, tuple(rest), change)
    return copy


def shape(value: Any, tree: KeyTree | None) -> Hashable:
    """What the models' verdict on `value` depends on: its keys, the types of its leaves and its
    `type` enums. Two items of one shape get the same verdict (times are checked separately).
    Free-form objects (`properties`) are opaque: only their type counts, never their keys."""
    if tree is None or not isinstance(value, dict):
        return type(value).__name__
    children = tree.children
    list_items = tree.list_items
    parts: list[tuple[str, Hashable]] = []
    append = parts.append
    for key, child_value in value.items():
        child = children.get(key, _UNKNOWN)
        if child is _UNKNOWN:
            append((key, "?"))
        elif key == "type" and isinstance(child_value, str):
            append((key, child_value))
        elif child is None or not isinstance(child_value, (dict, list)):
            append((key, type(child_value).__name__))  # what shape() of a leaf is
        elif key in list_items and isinstance(child_value, list):
            append((key, tuple([shape(item, child) for item in child_value])))
        else:
            append((key, shape(child_value, child)))
    return tuple(parts)


_UNKNOWN: Any = object()


def subtree(tree: KeyTree, *path: str) -> KeyTree:
    node = tree
    for key in path:
        child = node.children[key]
        if child is None:
            msg = f"{key!r} is free-form"
            raise KeyError(msg)
        node = child
    return node


def not_arrays(value: Any, tree: KeyTree, pointer: str) -> Iterator[str]:
    """Pointers of list-typed fields holding something else: the generated `from_dict` iterates a
    dict as if it were the list (accepting `{}`), where Klaviyo rejects it."""
    if not isinstance(value, dict):
        return
    for key, child_value in value.items():
        child = tree.children.get(key)
        if child is None:
            continue
        if key in tree.list_items:
            if isinstance(child_value, list):
                for index, item in enumerate(child_value):
                    yield from not_arrays(item, child, f"{pointer}/{key}/{index}")
            elif child_value is not None:
                yield f"{pointer}/{key}"
        else:
            yield from not_arrays(child_value, child, f"{pointer}/{key}")
