"""Command arguments as pydantic models: the contract's shapes, validated at the edge.

:func:`parse_params` is the one way a handler reads its argument; the answers these
commands give are in ``lsp/answers.py``.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pygls.exceptions import JsonRpcInvalidParams


class _Params(BaseModel):
    # Clients add fields over time (and Neovim sends extras); ignore, don't fail.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TextDocumentRef(_Params):
    uri: str = Field(min_length=1)


class PositionParam(_Params):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class RangeParam(_Params):
    start: PositionParam
    end: PositionParam


class GenerateParams(_Params):
    text_document: TextDocumentRef = Field(alias="textDocument")
    position: PositionParam
    description: str = Field(default="", max_length=100_000)
    template: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None
    refine: bool | None = None
    tests: bool = False
    mode: Literal["direct", "agent"] | None = None
    work_done_token: str | int | None = Field(default=None, alias="workDoneToken")


class RefineParams(_Params):
    text_document: TextDocumentRef = Field(alias="textDocument")
    range: RangeParam
    instruction: str = Field(default="", max_length=100_000)
    template: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None
    refine: bool | None = None
    work_done_token: str | int | None = Field(default=None, alias="workDoneToken")


class EmptyParams(_Params):
    pass


class GenerateTestsParams(_Params):
    text_document: TextDocumentRef = Field(alias="textDocument")
    range: RangeParam | None = None
    model: str | None = None
    refine: bool | None = None
    work_done_token: str | int | None = Field(default=None, alias="workDoneToken")


class IdParams(_Params):
    """``{id}``: a pending change or a running generation, named by its lens."""

    id: str = Field(min_length=1)


class ForceParams(IdParams):
    """``{id, force?}`` of ``tta.discard`` and ``tta.regenerate``."""

    force: bool = False


P = TypeVar("P", bound=BaseModel)


def parse_params(
    model: type[P], args: tuple[Any, ...], command: str, *, optional: bool = False
) -> P:
    """One object argument, validated; errors name the field and what was wrong.

    ``optional``: the command may also be called with no argument at all, read as ``{}``
    (``tta.listModels``, ``tta.stats``, ...: clients differ in sending ``[]`` or ``[{}]``).
    """
    if optional and not args:
        args = ({},)
    if len(args) != 1 or not isinstance(args[0], dict):
        raise JsonRpcInvalidParams(f"{command} takes exactly one object argument")
    try:
        return model.model_validate(args[0])
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(argument)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise JsonRpcInvalidParams(f"{command}: invalid argument: {problems}") from exc
