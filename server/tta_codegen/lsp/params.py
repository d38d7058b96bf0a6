"""Command arguments as pydantic models: the contract's shapes, validated at the edge."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
