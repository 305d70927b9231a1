"""The base of every params section model, and the constrained types the sections share."""

from __future__ import annotations

from typing import Annotated

import re

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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

# A UTM zone: number 1-60 and a latitude band letter C-X without I and O (e.g. 30U, 17T).
UTM_ZONE_PATTERN = r"^(0?[1-9]|[1-5][0-9]|60)[C-HJ-NP-X]$"


def _utm_zone(value: str, local_allowed: bool = False) -> str:
    if (local_allowed and value == "") or re.fullmatch(UTM_ZONE_PATTERN, value):
        return value
    local = " or '' (a local metric frame)" if local_allowed else ""
    raise ValueError(f"a UTM zone: number 1-60 and a latitude band letter C-X without I and O, such as 30U{local}")


UtmZone = Annotated[str, AfterValidator(_utm_zone)]
UtmZoneOrLocal = Annotated[str, AfterValidator(lambda value: _utm_zone(value, local_allowed=True))]


class Section(BaseModel):
    """A params section: unknown keys are errors, types strict, numbers finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)
