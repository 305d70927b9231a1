"""The base of every params section model, and the constrained types the sections share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9_]+$"          # method and test-set names: safe as folder names
CONDITION_PATTERN = r"^[a-z][a-z0-9_]*$"   # conditions: lower-case identifiers
TRAVERSAL_PATTERN = r"^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Condition = Annotated[str, Field(pattern=CONDITION_PATTERN)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PathStr = Annotated[str, Field(min_length=1)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class Section(BaseModel):
    """A params section: unknown keys are errors, types strict, numbers finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
